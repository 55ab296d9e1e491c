"""Invitations in the chat: ``/start g-<token>`` (personal) and ``/start k-<class>``.

A personal link asks "Are you <first name>, <programme> <year>?" first. Yes uses the
token, links the record and starts onboarding with what the school knows filled in (the
person still chooses every consent, and can correct the rest with /profiel). No leaves
the token unused and onboarding starts empty. A class link fills in programme and cohort.
"""

from __future__ import annotations

from typing import Any

from bot.chat.router import ChatRouter, Outcome, Reply, Turn
from bot.core.callbacks import CALLBACKS, CallbackKind
from bot.core.deps import Deps
from bot.core.messenger import Action, Button, Edit, Outgoing, Send
from bot.profile.chat import LANGUAGE, ONBOARDING
from bot.registry.service import CLASS_PREFIX, PERSONAL_PREFIX, RegistryService

FLOW = "registry"
ASK = "ask"
YES, NO = "yes", "no"
# What a personal record fills in: these onboarding questions are not asked again.
PERSONAL_STEPS = ("name", "location", "programme", "level", "track", "graduation", "month")
CLASS_STEPS = ("programme", "level", "graduation", "month")
_NOTES = {
    "used": "registry.link_used",
    "expired": "registry.link_expired",
    "unknown": "registry.link_invalid",
    "mine": "registry.link_mine",
}

# ``gr:yes`` / ``gr:no``: the answer to "are you ...?"; the invitation is in the flow state.
CLAIM_BUTTON = CALLBACKS.declare("gr", lambda v: v if v in (YES, NO) else None, longest=YES)


class ClaimFlow:
    """The one question a personal invitation asks, and the class link's welcome."""

    names: tuple[str, ...] = (FLOW,)
    buttons: tuple[CallbackKind[Any], ...] = (CLAIM_BUTTON,)

    def __init__(self, deps: Deps, registry: RegistryService) -> None:
        self.deps = deps
        self.registry = registry

    def _text(self, turn: Turn, name: str, **ctx: Any) -> str:
        return self.deps.renderer.text(name, turn.locale, **ctx)

    # ----------------------------------------------------------------- deep links

    async def personal(self, turn: Turn) -> Outcome:
        """``/start g-<token>``: ask whether the record is theirs, or say why not."""
        claim = await self.registry.claim(turn.tx, turn.start_payload or "", turn.alumnus_id)
        if claim.status != "ok" or claim.invitation is None:
            note = Send(Outgoing(self._text(turn, _NOTES[claim.status])))
            return await self._go_on(turn, [note])
        turn.state = await turn.tx.states.set(
            turn.alumnus_id, FLOW, ASK, {"invitation": claim.invitation.id}, self.deps.clock.now()
        )
        return Reply([Send(await self.prompt(turn))])

    async def class_link(self, turn: Turn) -> Outcome:
        """``/start k-<crebo>-<level>-<yyyymm>``: onboarding with programme and cohort."""
        key = self.registry.class_of_payload(turn.start_payload or "")
        if key is None:
            note = Send(Outgoing(self._text(turn, "registry.link_invalid")))
            return await self._go_on(turn, [note])
        if turn.alumnus.onboarded_at is not None:
            note = Send(Outgoing(self._text(turn, "registry.class_onboarded")))
            return await self._go_on(turn, [note])
        programme = self.registry.programme_label(key.crebo, turn.locale)
        cohort = self.deps.renderer.label(
            "registry.cohort",
            turn.locale,
            studying=self.registry.prefill_class(key)["still_studying"],
            year=key.year,
        )
        welcome = Send(
            Outgoing(
                self._text(turn, "registry.class_welcome", programme=programme, cohort=cohort)
            )
        )
        return await self._onboard(turn, [welcome], self.registry.prefill_class(key), CLASS_STEPS)

    # ----------------------------------------------------------------- the question

    async def prompt(self, turn: Turn) -> Outgoing:
        """Ask "Are you <first name>, <programme> <year>?" with yes and no."""
        assert turn.state is not None
        found = await turn.tx.registry.invitation_by_id(int(turn.state.data.get("invitation", 0)))
        if found is None:
            return Outgoing(self._text(turn, "registry.claim_gone"))
        graduate = found[1]
        studying = graduate.graduation_date > self.registry.today()
        text = self._text(
            turn,
            "registry.ask_claim",
            school=self.deps.settings.school_name,
            first_name=graduate.first_name,
            programme=self.registry.programme_label(graduate.crebo, turn.locale),
            cohort=self.deps.renderer.label(
                "registry.cohort",
                turn.locale,
                studying=studying,
                year=graduate.graduation_date.year,
            ),
        )
        label = self.deps.renderer.label
        buttons = [
            [Button(label("registry.yes", turn.locale), CLAIM_BUTTON.build(YES))],
            [Button(label("registry.no", turn.locale), CLAIM_BUTTON.build(NO))],
        ]
        return Outgoing(text, buttons)

    async def answer(self, turn: Turn, value: Any | None) -> Outcome:
        """Yes links the record and prefills onboarding; no goes on without it."""
        assert turn.state is not None
        invitation_id = int(turn.state.data.get("invitation", 0))
        if value is None:
            if await turn.tx.registry.invitation_by_id(invitation_id) is None:
                return await self._go_on(turn, [], leave=True)
            prompt = await self.prompt(turn)
            hint = self._text(turn, "registry.claim_use_buttons")
            return Reply([Send(Outgoing(f"{hint}\n\n{prompt.text}", prompt.buttons))])
        message_id = turn.event.message_id or 0
        if value == NO:
            name = "registry.claim_declined"
            if turn.alumnus.onboarded_at is not None:
                name = "registry.claim_declined_onboarded"
            return await self._go_on(
                turn, [Edit(message_id, Outgoing(self._text(turn, name)))], leave=True
            )
        graduate = await self.registry.redeem(turn.tx, invitation_id, turn.alumnus)
        if graduate is None:
            gone = Edit(message_id, Outgoing(self._text(turn, "registry.claim_gone")))
            return await self._go_on(turn, [gone], leave=True)
        if turn.alumnus.onboarded_at is not None:
            await turn.end_flow()
            text = self._text(
                turn, "registry.claim_linked_onboarded", first_name=graduate.first_name
            )
            return Reply([Edit(message_id, Outgoing(text))])
        text = self._text(turn, "registry.claim_linked", first_name=graduate.first_name)
        return await self._onboard(
            turn,
            [Edit(message_id, Outgoing(text))],
            self.registry.prefill(graduate),
            PERSONAL_STEPS,
        )

    # ----------------------------------------------------------------- going on

    async def _go_on(self, turn: Turn, actions: list[Action], *, leave: bool = False) -> Outcome:
        """Continue as if the link were a plain /start: onboarding, or where they were."""
        if leave:
            await turn.end_flow()
        if turn.alumnus.onboarded_at is None and (turn.state is None or turn.state.flow == FLOW):
            return await self._onboard(turn, actions, {}, ())
        return Reply(actions, reprompt=turn.state is not None)

    async def _onboard(
        self, turn: Turn, actions: list[Action], draft: dict[str, Any], prefilled: tuple[str, ...]
    ) -> Outcome:
        """Start onboarding at the welcome, with ``draft`` filled in and its questions skipped."""
        turn.state = await turn.tx.states.set(
            turn.alumnus_id,
            ONBOARDING,
            LANGUAGE,
            {"draft": draft, "history": [], "prefilled": list(prefilled)},
            self.deps.clock.now(),
        )
        return Reply(actions, reprompt=True)


def register(router: ChatRouter, flow: ClaimFlow) -> None:
    """Register the invitation links and the claim question."""
    router.flow(flow)
    router.start_payload(PERSONAL_PREFIX, flow.personal)
    router.start_payload(CLASS_PREFIX, flow.class_link)
