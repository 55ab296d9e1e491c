"""Onboarding and /profiel in the chat: the flows over the profile steps, /start, /taal.

Steps (``bot.profile.steps``) are pure; this module keeps the flow's position and answers in
``conversation_state`` and writes the profile **once**, when the person saves.
"""

from __future__ import annotations

from typing import Any

from bot.chat.router import RESUME, STALE, ChatRouter, Outcome, Reply, Turn
from bot.core.callbacks import CALLBACKS, CallbackKind
from bot.core.deps import Deps
from bot.core.messenger import Action, Button, ClearButtons, Edit, Outgoing, Send, rows
from bot.core.render import DEFAULT_LOCALE, LOCALES
from bot.privacy.service import PURPOSES, ConsentService
from bot.profile.steps import (
    ANSWER,
    BACK,
    DONE,
    PROFILE_FIELDS,
    PROFILE_GROUPS,
    PROFILE_STEPS,
    SKIP,
    STEPS,
    Accept,
    Refine,
    Reject,
    StepContext,
    callback,
)
from bot.profile.steps import (
    Outcome as StepOutcome,
)

ONBOARDING = "onboarding"
EDIT = "edit"
LANGUAGE, CONSENT, CONFIRM = "language", "consent", "confirm"
ONBOARDING_STEPS: tuple[str, ...] = (LANGUAGE, CONSENT, *PROFILE_STEPS, CONFIRM)

# ``l:<locale>``: the language, chosen with /taal.
LANGUAGE_BUTTON = CALLBACKS.declare(
    "l", lambda code: code if code in LOCALES else None, longest=max(LOCALES, key=len)
)
# ``p:<group>``: edit one group of the profile, from the /profiel view.
EDIT_BUTTON = CALLBACKS.declare(
    "p", lambda group: group if group in PROFILE_GROUPS else None, longest=max(PROFILE_GROUPS)
)


class ProfileFlow:
    """Onboarding (welcome, language, consent, profile, save) and editing one group."""

    names: tuple[str, ...] = (ONBOARDING, EDIT)
    buttons: tuple[CallbackKind[Any], ...] = (ANSWER,)

    def __init__(self, deps: Deps, consent: ConsentService) -> None:
        self.deps = deps
        self.consent = consent

    # ----------------------------------------------------------------- commands

    async def start(self, turn: Turn) -> Outcome:
        """/start: continue the open flow, begin onboarding, or welcome back."""
        if turn.state is not None:
            return RESUME
        if turn.alumnus.onboarded_at is None:
            return await self.begin_onboarding(turn)
        text = self.deps.renderer.text(
            "common.welcome_back", turn.locale, first_name=turn.alumnus.first_name
        )
        return Reply([Send(Outgoing(text))])

    async def show_profile(self, turn: Turn) -> Outcome:
        """/profiel: the profile with its edit buttons (onboarding continues instead)."""
        if turn.state is not None and turn.state.flow == ONBOARDING:
            return RESUME
        await turn.end_flow()
        return Reply([Send(self.profile_view(turn.alumnus))])

    async def choose_language(self, turn: Turn) -> Outcome:
        """/taal: the language buttons."""
        label = self.deps.renderer.label
        buttons = [
            [
                Button(label(f"labels.language_{code}", turn.locale), LANGUAGE_BUTTON.build(code))
                for code in LOCALES
            ]
        ]
        text = self.deps.renderer.text("common.choose_language", turn.locale)
        return Reply([Send(Outgoing(text, buttons))])

    # ----------------------------------------------------------------- buttons

    async def set_language(self, turn: Turn, locale: str) -> Outcome:
        """A language button: switch, confirm in the new language, show the open question."""
        turn.alumnus.locale = locale
        turn.tx.alumni.save(turn.alumnus, self.deps.clock.now())
        confirmation = Outgoing(self.deps.renderer.text("common.language_set", locale))
        return Reply([Edit(turn.event.message_id or 0, confirmation)], reprompt=True)

    async def begin_edit(self, turn: Turn, group: str) -> Outcome:
        """An edit button under the profile: ask that group's questions."""
        if turn.alumnus.onboarded_at is None:
            return STALE
        draft = {name: getattr(turn.alumnus, name) for name in PROFILE_FIELDS}
        first = PROFILE_GROUPS[group][0]
        turn.state = await turn.tx.states.set(
            turn.alumnus_id,
            EDIT,
            first,
            {"group": group, "draft": draft, "history": []},
            self.deps.clock.now(),
        )
        return Reply([ClearButtons(turn.event.message_id or 0), Send(await self.prompt(turn))])

    async def begin_onboarding(self, turn: Turn) -> Outcome:
        """Welcome a new person: the first step of onboarding."""
        turn.state = await turn.tx.states.set(
            turn.alumnus_id,
            ONBOARDING,
            LANGUAGE,
            {"draft": {}, "history": []},
            self.deps.clock.now(),
        )
        return Reply([Send(await self.prompt(turn))])

    # ----------------------------------------------------------------- the flow

    def _sequence(self, turn: Turn) -> tuple[str, ...]:
        assert turn.state is not None
        if turn.state.flow == EDIT:
            return PROFILE_GROUPS[turn.state.data["group"]]
        return ONBOARDING_STEPS

    def _next(self, turn: Turn, draft: dict[str, Any]) -> str | None:
        assert turn.state is not None
        sequence = self._sequence(turn)
        if turn.state.step not in sequence:
            return None
        # Questions answered before onboarding began (an invitation from the school's
        # records, a class link) are not asked again; /profiel corrects them later.
        prefilled = set(turn.state.data.get("prefilled", ()))
        for name in sequence[sequence.index(turn.state.step) + 1 :]:
            if name in prefilled:
                continue
            step = STEPS.get(name)
            if step is None or step.applies(draft, self.deps.catalogue):
                return name
        return None

    def _context(self, turn: Turn) -> StepContext:
        assert turn.state is not None
        return StepContext(
            locale=turn.locale,
            draft=turn.state.data.get("draft", {}),
            catalogue=self.deps.catalogue,
            renderer=self.deps.renderer,
            this_year=self.deps.clock.now().year,
            suggested_name=turn.event.first_name,
            can_go_back=bool(turn.state.data.get("history")),
        )

    async def prompt(self, turn: Turn, **extra: Any) -> Outgoing:
        """Render the question of the current step."""
        assert turn.state is not None
        renderer, settings = self.deps.renderer, self.deps.settings
        locale, step = turn.locale, turn.state.step
        if step == LANGUAGE:
            buttons = [
                [
                    Button(
                        renderer.label(f"labels.language_{code}", locale), callback(LANGUAGE, code)
                    )
                    for code in LOCALES
                ]
            ]
            text = renderer.text(
                "onboarding.welcome",
                locale,
                school=settings.school_name,
                contact=settings.privacy_contact,
            )
            return Outgoing(text, buttons)
        if step == CONSENT:
            screen = await self.consent.screen(
                turn.tx, turn.alumnus, "onboarding.consent", lambda p: callback(CONSENT, p)
            )
            done = Button(renderer.label("labels.continue", locale), callback(CONSENT, DONE))
            return Outgoing(screen.text, [*screen.buttons, [done], *self._back_row(turn)])
        if step == CONFIRM:
            summary = self.summary(turn.state.data["draft"], locale)
            buttons = [
                [Button(renderer.label("labels.save", locale), callback(CONFIRM, "save"))],
                *self._back_row(turn),
            ]
            return Outgoing(renderer.text("onboarding.confirm", locale, rows=summary), buttons)
        return STEPS[step].prompt(self._context(turn), **extra)

    def _back_row(self, turn: Turn) -> list[list[Button]]:
        assert turn.state is not None
        if not turn.state.data.get("history"):
            return []
        label = self.deps.renderer.label("labels.back", turn.locale)
        return [[Button(label, callback(turn.state.step, BACK))]]

    async def answer(self, turn: Turn, value: Any | None) -> Outcome:
        """A typed answer (``value`` None) or a tapped one (``(step, value)``)."""
        assert turn.state is not None
        state, event = turn.state, turn.event
        choice: str | None = None
        if value is not None:
            step_name, choice = value
            if step_name != state.step:
                return STALE
            if choice == BACK:
                return await self._back(turn)
        if event.media is not None and choice is None:
            return await self._reject(turn, Reject("steps.text_only"))

        outcome: StepOutcome
        if state.step == LANGUAGE:
            if choice is None:
                return await self._reject(turn, Reject("steps.use_buttons"))
            if choice not in LOCALES:
                return STALE
            turn.alumnus.locale = choice
            turn.tx.alumni.save(turn.alumnus, self.deps.clock.now())
            outcome = Accept({}, self.deps.renderer.label(f"labels.language_{choice}", choice))
        elif state.step == CONSENT:
            if choice is None:
                return await self._reject(turn, Reject("steps.use_buttons"))
            if choice in PURPOSES:
                await self.consent.toggle(
                    turn.tx, turn.alumnus, choice, ONBOARDING, event.update_id
                )
                return Reply([Edit(event.message_id or 0, await self.prompt(turn))])
            if choice != DONE:
                return STALE
            outcome = Accept({})
        elif state.step == CONFIRM:
            if choice != "save":
                return await self._reject(turn, Reject("steps.use_buttons"))
            return await self._finish(turn)
        elif state.step not in STEPS:
            return STALE
        else:
            step = STEPS[state.step]
            ctx = self._context(turn)
            if choice is None:
                outcome = step.on_text(ctx, event.text or "")
            elif choice == SKIP and step.skippable:
                outcome = step.skip()
            else:
                outcome = step.on_choice(ctx, choice)

        if isinstance(outcome, Reject):
            if outcome.reason == "common.stale_button":
                return STALE
            return await self._reject(turn, outcome)
        draft = {**state.data.get("draft", {}), **outcome.updates}
        if isinstance(outcome, Refine):
            state.data = {**state.data, "draft": draft}
            await turn.tx.states.set(
                turn.alumnus_id, state.flow, state.step, state.data, self.deps.clock.now()
            )
            prompt = await self.prompt(turn, **outcome.context)
            if event.data is not None:
                return Reply([Edit(event.message_id or 0, prompt)])
            return Reply([Send(prompt)])
        return await self._advance(turn, draft, outcome)

    async def _advance(self, turn: Turn, draft: dict[str, Any], accepted: Accept) -> Outcome:
        assert turn.state is not None
        state, event = turn.state, turn.event
        actions: list[Action] = []
        # A tapped answer stays visible: the pressed question keeps its text, loses its
        # buttons and shows the answer under it; the next question is a new message. (Editing
        # the question into the next one left no record of what the person chose.)
        if event.data is not None:
            actions.append(await self._answered(turn, accepted.echo))
        next_step = self._next(turn, draft)
        history = [*state.data.get("history", []), state.step]
        state.data = {**state.data, "draft": draft, "history": history}
        if next_step is None:
            return await self._finish(turn, actions)
        state.step = next_step
        await turn.tx.states.set(
            turn.alumnus_id, state.flow, next_step, state.data, self.deps.clock.now()
        )
        actions.append(Send(await self.prompt(turn)))
        return Reply(actions)

    async def _answered(self, turn: Turn, echo: str | None) -> Action:
        """Turn the pressed question into a record of the answer, without buttons."""
        if not echo:
            return ClearButtons(turn.event.message_id or 0)
        prompt = await self.prompt(turn)
        answer = self.deps.renderer.text("common.answer", turn.locale, echo=echo)
        return Edit(turn.event.message_id or 0, Outgoing(f"{prompt.text}\n\n{answer}"))

    async def _reject(self, turn: Turn, reject: Reject) -> Outcome:
        reason = self.deps.renderer.text(reject.reason, turn.locale, **reject.ctx)
        prompt = await self.prompt(turn)
        return Reply([Send(Outgoing(f"{reason}\n\n{prompt.text}", prompt.buttons))])

    async def _back(self, turn: Turn) -> Outcome:
        assert turn.state is not None
        state = turn.state
        history = list(state.data.get("history", []))
        if not history:
            return STALE
        state.step = history.pop()
        state.data = {**state.data, "history": history}
        await turn.tx.states.set(
            turn.alumnus_id, state.flow, state.step, state.data, self.deps.clock.now()
        )
        prompt = await self.prompt(turn)
        message_id = turn.event.message_id or 0
        if state.step == LANGUAGE:  # back to the welcome: show it as a new message again
            return Reply([ClearButtons(message_id), Send(prompt)])
        return Reply([Edit(message_id, prompt)])

    async def _finish(self, turn: Turn, actions: list[Action] | None = None) -> Reply:
        """Write the answers to the profile in one go, end the flow, say what happened."""
        assert turn.state is not None
        state, alumnus, locale = turn.state, turn.alumnus, turn.locale
        actions = list(actions or [])
        draft = state.data.get("draft", {})
        names = self._sequence(turn) if state.flow == EDIT else PROFILE_STEPS
        steps = [STEPS[name] for name in names]
        # A field is kept when any step that is asked owns it (the programme step sets the
        # level of a single-level programme); fields of questions not asked are emptied.
        kept = {
            f for step in steps if step.applies(draft, self.deps.catalogue) for f in step.fields
        }
        for field_name in dict.fromkeys(f for step in steps for f in step.fields):
            value = draft.get(field_name) if field_name in kept else None
            if field_name == "interests":
                value = list(value or [])
            elif field_name == "still_studying":
                value = bool(value)
            setattr(alumnus, field_name, value)
        now = self.deps.clock.now()
        text = self.deps.renderer.text
        if state.flow == ONBOARDING:
            alumnus.onboarded_at = now
            done = Outgoing(text("onboarding.done", locale, first_name=alumnus.first_name))
        else:
            view = self.profile_view(alumnus)
            done = Outgoing(f"{text('profile.saved', locale)}\n\n{view.text}", view.buttons)
        # A tap replaces the last question with the result; a typed answer gets a new message.
        if turn.event.data is not None and not actions:
            actions.append(Edit(turn.event.message_id or 0, done))
        else:
            actions.append(Send(done))
        turn.tx.alumni.save(alumnus, now)
        await turn.end_flow()
        return Reply(actions)

    # ----------------------------------------------------------------- the profile

    def summary(self, values: dict[str, Any], locale: str) -> list[tuple[str, str | None]]:
        """Return (label, value) rows of a profile for display."""
        catalogue, label = self.deps.catalogue, self.deps.renderer.label
        programme = catalogue.programme(values.get("crebo"))
        location = catalogue.item("location", values.get("location"))
        sector = catalogue.item("sector", values.get("sector"))
        interests = [catalogue.item("interest", c) for c in values.get("interests") or []]
        graduation = None
        if values.get("still_studying"):
            graduation = label("labels.still_studying", locale)
        elif values.get("graduation_year"):
            graduation = label(
                "labels.graduation",
                locale,
                year=values["graduation_year"],
                month=values.get("graduation_month"),
            )
        situation, frequency = values.get("situation"), values.get("offer_frequency")
        return [
            (label("labels.field_name", locale), values.get("first_name")),
            (label("labels.field_location", locale), location.label(locale) if location else None),
            (
                label("labels.field_programme", locale),
                label(
                    "labels.programme_full",
                    locale,
                    p=programme,
                    level=values.get("level"),
                    track=values.get("track"),
                )
                if programme
                else None,
            ),
            (label("labels.field_graduation", locale), graduation),
            (
                label("labels.field_situation", locale),
                label(f"labels.situation_{situation}", locale) if situation else None,
            ),
            (label("labels.field_sector", locale), sector.label(locale) if sector else None),
            (
                label("labels.field_region", locale),
                catalogue.region_label(values.get("region"), locale),
            ),
            (
                label("labels.field_interests", locale),
                ", ".join(i.label(locale) for i in interests if i) or None,
            ),
            (
                label("labels.field_frequency", locale),
                label(f"labels.frequency_{frequency}", locale) if frequency else None,
            ),
        ]

    def describe(self, alumnus: Any, locale: str) -> list[tuple[str, str | None]]:
        """The stored profile in words, for the data export's readable summary."""
        return self.summary({name: getattr(alumnus, name) for name in PROFILE_FIELDS}, locale)

    def profile_view(self, alumnus: Any) -> Outgoing:
        """The profile with a button per group to edit it."""
        locale = alumnus.locale or DEFAULT_LOCALE
        values = {name: getattr(alumnus, name) for name in PROFILE_FIELDS}
        renderer = self.deps.renderer
        buttons = [
            Button(renderer.label(f"labels.edit_{group}", locale), EDIT_BUTTON.build(group))
            for group in PROFILE_GROUPS
        ]
        return Outgoing(
            renderer.text("profile.view", locale, rows=self.summary(values, locale)),
            rows(buttons, 2),
        )


def register(router: ChatRouter, flow: ProfileFlow) -> None:
    """Register onboarding, /start, /profiel, /taal and their buttons."""
    router.flow(flow)
    router.first_contact(flow.begin_onboarding)
    router.command("start", flow.start)
    router.command("profile", flow.show_profile)
    router.command("language", flow.choose_language)
    router.button(LANGUAGE_BUTTON, flow.set_language)
    router.button(EDIT_BUTTON, flow.begin_edit)
