"""The console's surveys page: the surveys, who may send which, and sending one to a segment.

The segment is read the one way a coordinator's choice is read (``bot.campaigns.segments``,
as the campaign composer reads it): programmes, levels, regions and graduation years,
checked against the catalogue. Sending asks first, with the number it reaches; the
confirmed form carries a one-time key, so the same form posted twice sends once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields

from bot.campaigns.segments import Filters, Form, parse_filters
from bot.core.console import ConsoleService
from bot.core.deps import Deps
from bot.staff.service import Principal
from bot.surveys.definition import Survey
from bot.surveys.service import SurveyService
from storage.models import SurveySend

# The filters a survey's segment offers (the composer's, less what only offers need).
SURVEY_FILTERS = ("crebos", "levels", "regions", "cohort_from", "cohort_to")
FORM_KEY = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)


class UnknownSurveyError(LookupError):
    """No survey with this code in content/surveys."""


class SendRefusedError(Exception):
    """The staff member may not send this survey."""


@dataclass(frozen=True)
class SurveyRow:
    """A survey as the list shows it; a count is None where it would show too few people."""

    survey: Survey
    title: str
    questions: int
    invited: int | None
    responded: int | None
    may_send: bool


def shown_totals(invited: int, responded: int, k: int) -> tuple[int | None, int | None]:
    """Return (invited, responded) as a page may show them, None for hidden.

    The monitor's rule for "asked, answered": nothing of a group below k; the number who
    responded only when it, and the number who did not, are each 0 or at least k (else
    one would tell about a few people).
    """
    if 0 < invited < k:
        return None, None
    silent = max(invited - responded, 0)
    if 0 < responded < k or 0 < silent < k:
        return invited, None
    return invited, responded


class SurveyConsole(ConsoleService):
    """What the surveys page reads and does, for one staff member at a time."""

    def __init__(
        self, deps: Deps, surveys: SurveyService, wake: Callable[[], None] | None
    ) -> None:
        self.catalogue = deps.catalogue
        self.clock = deps.clock
        self.k = deps.settings.report_min_group
        self.service = surveys
        super().__init__(deps.settings, wake)

    def survey(self, code: str) -> Survey:
        """Return the survey with this code.

        Raises:
            UnknownSurveyError: there is none.
        """
        found = self.service.surveys.get(code)
        if found is None:
            raise UnknownSurveyError(code)
        return found

    @staticmethod
    def may_send(principal: Principal, survey: Survey) -> bool:
        """Admins send every survey; a coordinator those naming one of their teams.

        The campaigns' rule (an offer's contact team) with the survey's ``team``.
        """
        if principal.is_admin:
            return True
        return survey.team is not None and survey.team in {t.code for t in principal.teams}

    async def listing(self, principal: Principal, locale: str) -> list[SurveyRow]:
        """Return every survey, by title, with its counts and whether the member may send it."""
        totals = await self.service.totals()
        found = []
        for code, survey in self.service.surveys.items():
            invited, responded = shown_totals(*totals.get(code, (0, 0)), self.k)
            found.append(
                SurveyRow(
                    survey=survey,
                    title=survey.title(locale),
                    questions=len(survey.questions),
                    invited=invited,
                    responded=responded,
                    may_send=self.may_send(principal, survey),
                )
            )
        return sorted(found, key=lambda row: (row.title.casefold(), row.survey.code))

    async def row(self, principal: Principal, survey: Survey, locale: str) -> SurveyRow:
        """Return one survey as the list shows it."""
        [found] = [r for r in await self.listing(principal, locale) if r.survey is survey]
        return found

    def filters(self, form: Form) -> tuple[Filters, dict[str, str]]:
        """Read the segment as the composer does; keep the filters a survey offers.

        Returns the filters and a reason block (``web.filter_error_*``) per wrong field.
        Fields the page does not have are not read.
        """
        parsed, errors = parse_filters(form, self.catalogue)
        chosen = Filters(
            **{
                f.name: getattr(parsed, f.name)
                for f in fields(Filters)
                if f.name in SURVEY_FILTERS
            }
        )
        return chosen, {name: r for name, r in errors.items() if name in SURVEY_FILTERS}

    async def reach(self, survey: Survey, chosen: Filters) -> int:
        """How many alumni sending ``survey`` to ``chosen`` would invite now."""
        return await self.service.reach(survey.code, **chosen.for_service(self.clock.now()))

    @staticmethod
    def new_form_key() -> str:
        """Return a one-time key for a confirmation form."""
        return secrets.token_urlsafe(16)

    @staticmethod
    def is_form_key(value: object) -> bool:
        """Return whether ``value`` looks like a key :meth:`new_form_key` made."""
        return isinstance(value, str) and FORM_KEY.fullmatch(value) is not None

    async def sent_with(self, form_key: str) -> SurveySend | None:
        """Return the send a confirmed form with this key made already, if any."""
        return await self.service.sent_with(form_key)

    async def send(
        self, principal: Principal, survey: Survey, chosen: Filters, form_key: str
    ) -> tuple[SurveySend, bool]:
        """Queue the invitations; return the send and whether it is new.

        The same ``form_key`` again queues nothing and returns the first send (``False``).

        Raises:
            SendRefusedError: the member may not send this survey.
        """
        if not self.may_send(principal, survey):
            raise SendRefusedError()
        sent, new = await self.service.send_once(
            survey.code, form_key, **chosen.for_service(self.clock.now())
        )
        if new:
            self.wake()
        return sent, new

    async def sent(self, survey: Survey, send_id: int) -> SurveySend | None:
        """Return a send of this survey (the page's result), or None."""
        found = await self.service.sent(send_id)
        return found if found is not None and found.survey == survey.code else None
