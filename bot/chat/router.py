"""The conversation with an alumnus: onboarding, profile edits, and the command screens.

State lives in the ``conversation_state`` table, so a restart continues at the same step.
Each inbound event is handled in one transaction; messages go out only after it commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.campaigns.service import CampaignService
from bot.core.deps import Deps
from bot.core.inbound import Inbound
from bot.core.messenger import Action, Button, ClearButtons, Edit, Outgoing, Send
from bot.core.render import LOCALES, pick_locale
from bot.delivery.dispatcher import Dispatcher
from bot.inbox.service import TOPICS, InboxService, Incoming
from bot.privacy.service import ConsentService, PrivacyService
from bot.profile.steps import (
    BACK,
    DONE,
    PROFILE_FIELDS,
    PROFILE_GROUPS,
    PROFILE_STEPS,
    SKIP,
    STEPS,
    Accept,
    Outcome,
    Refine,
    Reject,
    StepContext,
    callback,
    rows,
)
from bot.staff.service import StaffLinks
from storage.models import Alumnus, ConversationState, Purpose
from storage.repositories import Tx

logger = logging.getLogger(__name__)

ONBOARDING = "onboarding"
EDIT = "edit"
QUESTION = "question"
LANGUAGE, CONSENT, CONFIRM = "language", "consent", "confirm"
ONBOARDING_STEPS: tuple[str, ...] = (LANGUAGE, CONSENT, *PROFILE_STEPS, CONFIRM)
PURPOSES = frozenset(p.value for p in Purpose)
LAST_SEEN_GRANULARITY = timedelta(hours=1)


@dataclass
class Reply:
    """What to do after an event: actions in the chat and an optional button toast."""

    actions: list[Action] = field(default_factory=list)
    toast: str | None = None


class ConversationService:
    """Routes each event to the open flow or to a command screen."""

    def __init__(self, deps: Deps, dispatcher: Dispatcher) -> None:
        self.deps = deps
        self.consent = ConsentService(deps)
        self.privacy = PrivacyService(deps, self.consent)
        self.inbox = InboxService(deps, dispatcher)
        self.campaigns = CampaignService(deps, self.consent, self.inbox)
        self.staff_links = StaffLinks(
            deps.storage, deps.clock, deps.settings.secret_key.get_secret_value()
        )

    # ----------------------------------------------------------------- entry points

    async def handle(self, event: Inbound, command: str | None = None) -> str | None:
        """Handle one event in one transaction, then deliver; return the toast, if any."""
        async with self.deps.storage.transaction() as tx:
            # The update is claimed in the same transaction that handles it: one round trip
            # fewer per update, and a crash rolls back the claim together with the work.
            if not await tx.updates.claim(event.update_id, self.deps.clock.now()):
                logger.info("update %s handled before; skipped", event.update_id)
                return None
            alumnus, state = await self._alumnus(tx, event)
            reply = await self._dispatch(tx, alumnus, state, event, command)
        if reply.actions:
            await self.deps.messenger.perform(event.chat_id, reply.actions)
        return reply.toast

    async def link_staff(self, event: Inbound, token: str) -> None:
        """A staff member opened their console link: link this Telegram account to them.

        Never an alumnus: no person record is made for this chat, and the answer says only
        whether the account is linked now.
        """
        async with self.deps.storage.transaction() as tx:
            if not await tx.updates.claim(event.update_id, self.deps.clock.now()):
                return
            outcome, name = await self.staff_links.redeem(tx, token, event.chat_id)
        locale = pick_locale(event.language_code)
        text = self.deps.renderer.text(f"staff.link_{outcome}", locale, member=name)
        await self.deps.messenger.perform(event.chat_id, [Send(Outgoing(text))])

    async def set_reachable(
        self, chat_id: int, *, reachable: bool, update_id: int | None = None
    ) -> None:
        """Record that a person blocked the bot, or came back."""
        since = None if reachable else self.deps.clock.now()
        async with self.deps.storage.transaction() as tx:
            if update_id is not None and not await tx.updates.claim(
                update_id, self.deps.clock.now()
            ):
                return
            await tx.alumni.set_unreachable(chat_id, since)
            alumnus = await tx.alumni.by_chat(chat_id)
            if alumnus is not None and not reachable:
                await self.inbox.unreachable(tx, alumnus)

    async def _alumnus(self, tx: Tx, event: Inbound) -> tuple[Alumnus, ConversationState | None]:
        """Load (or create) the person and their open flow together: one round trip."""
        now = self.deps.clock.now()
        alumnus, state = await tx.alumni.with_state(event.chat_id)
        if alumnus is None:
            alumnus = await tx.alumni.create(event.chat_id, now)
        else:
            # Activity is kept to the hour (segments use it); writing it on every update
            # would cost an UPDATE each time.
            if now - alumnus.last_seen_at >= LAST_SEEN_GRANULARITY:
                alumnus.last_seen_at = now
            if alumnus.unreachable_since is not None:
                alumnus.unreachable_since = None
        return alumnus, state

    async def _dispatch(
        self,
        tx: Tx,
        alumnus: Alumnus,
        state: ConversationState | None,
        event: Inbound,
        command: str | None,
    ) -> Reply:
        assert alumnus.id is not None
        if command is not None:
            return await self._command(tx, alumnus, state, event, command)
        if state is not None and state.flow == QUESTION:
            return await self._question_input(tx, alumnus, state, event)
        if event.data is not None:
            return await self._button(tx, alumnus, state, event)
        if state is None and alumnus.onboarded_at is None:
            # Whatever a new person sends first, they get the welcome.
            return await self._begin_onboarding(tx, alumnus, event)
        if state is not None:
            return await self._flow_input(tx, alumnus, state, event)
        # Outside any flow, a message is a question for the school.
        return await self._ask(tx, alumnus, event)

    # ----------------------------------------------------------------- commands

    async def _command(
        self,
        tx: Tx,
        alumnus: Alumnus,
        state: ConversationState | None,
        event: Inbound,
        command: str,
    ) -> Reply:
        locale = self._locale(alumnus, event)
        text = self.deps.renderer.text
        onboarding = state is not None and state.flow == ONBOARDING
        if command == "start":
            if state is not None:
                return self._resume(
                    tx, alumnus, state, event, await self._prompt(tx, alumnus, state, event)
                )
            if alumnus.onboarded_at is None:
                return await self._begin_onboarding(tx, alumnus, event)
            return Reply(
                [
                    Send(
                        Outgoing(
                            text("common.welcome_back", locale, first_name=alumnus.first_name)
                        )
                    )
                ]
            )
        if command == "help":
            return Reply(
                [
                    Send(
                        Outgoing(
                            text("common.help", locale, onboarded=alumnus.onboarded_at is not None)
                        )
                    )
                ]
            )
        if command == "language":
            buttons = [
                [
                    Button(
                        self.deps.renderer.label(f"labels.language_{code}", locale), f"l:{code}"
                    )
                    for code in LOCALES
                ]
            ]
            return Reply([Send(Outgoing(text("common.choose_language", locale), buttons))])
        if command == "profile":
            if onboarding:
                assert state is not None
                return self._resume(
                    tx, alumnus, state, event, await self._prompt(tx, alumnus, state, event)
                )
            if state is not None:
                await tx.states.clear(alumnus.id or 0)
            return Reply([Send(self._profile_view(alumnus))])
        if command == "privacy":
            return Reply(await self.privacy.overview(tx, alumnus))
        if command == "mydata":
            return Reply(await self.privacy.export(tx, alumnus))
        if command == "delete":
            return Reply(self.privacy.ask_erase(alumnus))
        if command == "stop":
            return Reply(await self.privacy.stop(tx, alumnus, event.update_id))
        if command == "question":
            if alumnus.onboarded_at is None:
                return Reply([Send(Outgoing(text("inbox.finish_onboarding_first", locale)))])
            if state is not None:
                await tx.states.clear(alumnus.id or 0)
            return await self._ask(tx, alumnus, event, typed=False)
        return Reply([Send(Outgoing(text("common.unknown_command", locale)))])

    def _resume(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState, event: Inbound, prompt: Outgoing
    ) -> Reply:
        locale = self._locale(alumnus, event)
        note = self.deps.renderer.text("common.resume", locale)
        return Reply([Send(Outgoing(f"{note}\n\n{prompt.text}", prompt.buttons))])

    # ----------------------------------------------------------------- buttons

    async def _button(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState | None, event: Inbound
    ) -> Reply:
        data = event.data or ""
        kind, _, rest = data.partition(":")
        if kind == "f" and state is not None:
            return await self._flow_input(tx, alumnus, state, event)
        if kind == "c" and rest in PURPOSES:
            actions, toast = await self.privacy.toggle(
                tx, alumnus, rest, event.message_id or 0, event.update_id
            )
            return Reply(actions, toast)
        if kind == "l" and rest in LOCALES:
            return await self._set_language(tx, alumnus, state, event, rest)
        if kind == "p" and rest in PROFILE_GROUPS and alumnus.onboarded_at is not None:
            return await self._begin_edit(tx, alumnus, event, rest)
        if kind == "x":
            return await self._erase_answer(tx, alumnus, event, rest)
        if kind == "o":
            return await self._offer_answer(tx, alumnus, state, event, rest)
        if kind == "r":
            return await self._rating(tx, alumnus, state, event, rest)
        return await self._stale(tx, alumnus, state, event)

    async def _stale(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState | None, event: Inbound
    ) -> Reply:
        """A button from an old message or with forged data: say so, and show where we are."""
        locale = self._locale(alumnus, event)
        toast = self.deps.renderer.label("common.stale_button", locale)
        actions: list[Action] = []
        if state is not None:
            actions.append(Send(await self._prompt(tx, alumnus, state, event)))
        return Reply(actions, toast)

    async def _set_language(
        self,
        tx: Tx,
        alumnus: Alumnus,
        state: ConversationState | None,
        event: Inbound,
        locale: str,
    ) -> Reply:
        alumnus.locale = locale
        tx.alumni.save(alumnus, self.deps.clock.now())
        confirmation = Outgoing(self.deps.renderer.text("common.language_set", locale))
        actions: list[Action] = [Edit(event.message_id or 0, confirmation)]
        if state is not None:
            actions.append(Send(await self._prompt(tx, alumnus, state, event)))
        return Reply(actions)

    async def _erase_answer(self, tx: Tx, alumnus: Alumnus, event: Inbound, token: str) -> Reply:
        locale = self._locale(alumnus, event)
        text = self.deps.renderer.text
        if token == "no":
            return Reply(
                [Edit(event.message_id or 0, Outgoing(text("privacy.erase_cancelled", locale)))]
            )
        if not self.privacy.erase_token_valid(alumnus.chat_id, token):
            return Reply(
                [ClearButtons(event.message_id or 0)],
                self.deps.renderer.label("privacy.erase_expired", locale),
            )
        await self.privacy.erase(tx, alumnus)
        logger.info("alumnus erased on request")
        return Reply([Edit(event.message_id or 0, Outgoing(text("privacy.erased", locale)))])

    async def _offer_answer(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState | None, event: Inbound, rest: str
    ) -> Reply:
        """A push button: ``i:<campaign>`` interest, ``x:<campaign>`` no more of these."""
        action, _, number = rest.partition(":")
        reply = None
        if action in ("i", "x") and number.isdigit():
            reply = await self.campaigns.respond(tx, alumnus, action, int(number), event.update_id)
        if reply is None:
            return await self._stale(tx, alumnus, state, event)
        locale = self._locale(alumnus, event)
        return Reply([Send(Outgoing(self.deps.renderer.text(reply, locale)))])

    # ----------------------------------------------------------------- questions

    def _incoming(self, event: Inbound) -> dict[str, object]:
        kind = event.media or "text"
        return {
            "message_id": event.message_id,
            "kind": kind,
            "text": event.text,
            "file_id": event.file_id,
        }

    async def _ask(self, tx: Tx, alumnus: Alumnus, event: Inbound, *, typed: bool = True) -> Reply:
        """A message outside any flow joins the open conversation or starts a question."""
        assert alumnus.id is not None
        locale = self._locale(alumnus, event)
        conversation = await tx.inbox.open_for(alumnus.id) if typed else None
        if conversation is not None:
            await self.inbox.add_from_alumnus(
                tx, conversation, self._as_incoming(event.chat_id, self._incoming(event))
            )
            return Reply([Send(Outgoing(self.inbox.acknowledgement(locale, new=False)))])
        pending = [self._incoming(event)] if typed else []
        await tx.states.set(
            alumnus.id, QUESTION, "topic", {"pending": pending}, self.deps.clock.now()
        )
        return Reply([Send(self._topic_prompt(locale, "inbox.choose_topic"))])

    def _topic_prompt(self, locale: str, block: str) -> Outgoing:
        label = self.deps.renderer.label
        buttons = [Button(label(f"labels.topic_{t}", locale), f"q:{t}") for t in TOPICS]
        return Outgoing(self.deps.renderer.text(block, locale), rows(buttons, 1))

    @staticmethod
    def _as_incoming(chat_id: int, data: dict[str, object]) -> Incoming:
        return Incoming(
            chat_id=chat_id,
            message_id=int(str(data["message_id"])),
            kind=str(data.get("kind") or "text"),
            text=data.get("text") if isinstance(data.get("text"), str) else None,  # type: ignore[arg-type]
            file_id=data.get("file_id") if isinstance(data.get("file_id"), str) else None,  # type: ignore[arg-type]
        )

    async def _question_input(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState, event: Inbound
    ) -> Reply:
        """Choosing the topic of a question, or typing it after /vraag."""
        assert alumnus.id is not None
        locale = self._locale(alumnus, event)
        pending = list(state.data.get("pending", []))
        if event.data is not None:
            kind, _, topic = event.data.partition(":")
            if kind != "q" or topic not in TOPICS or state.step != "topic":
                return await self._button(tx, alumnus, None, event)
            if not pending:  # /vraag: topic first, then the question
                await tx.states.set(
                    alumnus.id, QUESTION, "text", {"topic": topic}, self.deps.clock.now()
                )
                ask = Outgoing(self.deps.renderer.text("inbox.ask_question", locale))
                return Reply([ClearButtons(event.message_id or 0), Send(ask)], None)
            return await self._open(tx, alumnus, event, topic, pending, clear=event.message_id)
        if state.step == "text":
            return await self._open(
                tx, alumnus, event, state.data["topic"], [self._incoming(event)]
            )
        pending.append(self._incoming(event))
        await tx.states.set(
            alumnus.id, QUESTION, "topic", {"pending": pending}, self.deps.clock.now()
        )
        return Reply([Send(self._topic_prompt(locale, "inbox.choose_topic_first"))])

    async def _open(
        self,
        tx: Tx,
        alumnus: Alumnus,
        event: Inbound,
        topic: str,
        pending: list[dict[str, object]],
        clear: int | None = None,
    ) -> Reply:
        messages = [self._as_incoming(event.chat_id, p) for p in pending]
        _, new = await self.inbox.open_or_join(tx, alumnus, topic=topic, messages=messages)
        await tx.states.clear(alumnus.id or 0)
        locale = self._locale(alumnus, event)
        actions: list[Action] = [ClearButtons(clear)] if clear else []
        actions.append(Send(Outgoing(self.inbox.acknowledgement(locale, new=new))))
        return Reply(actions)

    async def _rating(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState | None, event: Inbound, rest: str
    ) -> Reply:
        conversation, _, score = rest.partition(":")
        if not (conversation.isdigit() and score.isdigit()):
            return await self._stale(tx, alumnus, state, event)
        if not await self.inbox.rate(tx, alumnus, int(conversation), int(score)):
            return await self._stale(tx, alumnus, state, event)
        locale = self._locale(alumnus, event)
        thanks = Outgoing(self.deps.renderer.text("inbox.rating_thanks", locale))
        return Reply([ClearButtons(event.message_id or 0), Send(thanks)])

    # ----------------------------------------------------------------- flows

    async def _begin_onboarding(self, tx: Tx, alumnus: Alumnus, event: Inbound) -> Reply:
        assert alumnus.id is not None
        state = await tx.states.set(
            alumnus.id, ONBOARDING, LANGUAGE, {"draft": {}, "history": []}, self.deps.clock.now()
        )
        return Reply([Send(await self._prompt(tx, alumnus, state, event))])

    async def _begin_edit(self, tx: Tx, alumnus: Alumnus, event: Inbound, group: str) -> Reply:
        assert alumnus.id is not None
        draft = {name: getattr(alumnus, name) for name in PROFILE_FIELDS}
        first = PROFILE_GROUPS[group][0]
        state = await tx.states.set(
            alumnus.id,
            EDIT,
            first,
            {"group": group, "draft": draft, "history": []},
            self.deps.clock.now(),
        )
        return Reply(
            [
                ClearButtons(event.message_id or 0),
                Send(await self._prompt(tx, alumnus, state, event)),
            ]
        )

    def _sequence(self, state: ConversationState) -> tuple[str, ...]:
        if state.flow == EDIT:
            return PROFILE_GROUPS[state.data["group"]]
        return ONBOARDING_STEPS

    def _next(self, state: ConversationState, draft: dict[str, Any]) -> str | None:
        sequence = self._sequence(state)
        for name in sequence[sequence.index(state.step) + 1 :]:
            step = STEPS.get(name)
            if step is None or step.applies(draft, self.deps.catalogue):
                return name
        return None

    def _context(self, alumnus: Alumnus, state: ConversationState, event: Inbound) -> StepContext:
        return StepContext(
            locale=self._locale(alumnus, event),
            draft=state.data.get("draft", {}),
            catalogue=self.deps.catalogue,
            renderer=self.deps.renderer,
            this_year=self.deps.clock.now().year,
            suggested_name=event.first_name,
            can_go_back=bool(state.data.get("history")),
        )

    async def _prompt(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState, event: Inbound, **extra: Any
    ) -> Outgoing:
        """Render the question of the current step."""
        renderer, settings = self.deps.renderer, self.deps.settings
        locale = self._locale(alumnus, event)
        if state.step == LANGUAGE:
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
        if state.step == CONSENT:
            screen = await self.consent.screen(tx, alumnus, "onboarding.consent", f"f:{CONSENT}:")
            done = Button(renderer.label("labels.continue", locale), callback(CONSENT, DONE))
            return Outgoing(screen.text, [*screen.buttons, [done], *self._back_row(state, locale)])
        if state.step == CONFIRM:
            summary = self._summary(state.data["draft"], locale)
            buttons = [
                [Button(renderer.label("labels.save", locale), callback(CONFIRM, "save"))],
                *self._back_row(state, locale),
            ]
            return Outgoing(renderer.text("onboarding.confirm", locale, rows=summary), buttons)
        return STEPS[state.step].prompt(self._context(alumnus, state, event), **extra)

    def _back_row(self, state: ConversationState, locale: str) -> list[list[Button]]:
        if not state.data.get("history"):
            return []
        return [
            [Button(self.deps.renderer.label("labels.back", locale), callback(state.step, BACK))]
        ]

    async def _flow_input(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState, event: Inbound
    ) -> Reply:
        value: str | None = None
        if event.data is not None:
            _, step_name, value = [*event.data.split(":", 2), "", ""][:3]
            if step_name != state.step:
                return await self._stale(tx, alumnus, state, event)
            if value == BACK:
                return await self._back(tx, alumnus, state, event)
        if event.media is not None and value is None:
            return await self._reject(tx, alumnus, state, event, Reject("steps.text_only"))

        outcome: Outcome
        if state.step == LANGUAGE:
            if value not in LOCALES and value is not None:
                return await self._stale(tx, alumnus, state, event)
            if value is None:
                return await self._reject(tx, alumnus, state, event, Reject("steps.use_buttons"))
            alumnus.locale = value
            tx.alumni.save(alumnus, self.deps.clock.now())
            outcome = Accept({}, self.deps.renderer.label(f"labels.language_{value}", value))
        elif state.step == CONSENT:
            if value is None:
                return await self._reject(tx, alumnus, state, event, Reject("steps.use_buttons"))
            if value in PURPOSES:
                await self.consent.toggle(tx, alumnus, value, ONBOARDING, event.update_id)
                return Reply(
                    [Edit(event.message_id or 0, await self._prompt(tx, alumnus, state, event))]
                )
            if value != DONE:
                return await self._stale(tx, alumnus, state, event)
            outcome = Accept({})
        elif state.step == CONFIRM:
            if value != "save":
                return await self._reject(tx, alumnus, state, event, Reject("steps.use_buttons"))
            return await self._finish(tx, alumnus, state, event)
        else:
            step = STEPS[state.step]
            ctx = self._context(alumnus, state, event)
            if value is None:
                outcome = step.on_text(ctx, event.text or "")
            elif value == SKIP and step.skippable:
                outcome = step.skip()
            else:
                outcome = step.on_choice(ctx, value)

        if isinstance(outcome, Reject):
            if outcome.reason == "common.stale_button":
                return await self._stale(tx, alumnus, state, event)
            return await self._reject(tx, alumnus, state, event, outcome)
        draft = {**state.data.get("draft", {}), **outcome.updates}
        if isinstance(outcome, Refine):
            state.data = {**state.data, "draft": draft}
            await tx.states.set(
                alumnus.id or 0, state.flow, state.step, state.data, self.deps.clock.now()
            )
            prompt = await self._prompt(tx, alumnus, state, event, **outcome.context)
            if event.data is not None:
                return Reply([Edit(event.message_id or 0, prompt)])
            return Reply([Send(prompt)])
        return await self._advance(tx, alumnus, state, event, draft, outcome)

    async def _advance(
        self,
        tx: Tx,
        alumnus: Alumnus,
        state: ConversationState,
        event: Inbound,
        draft: dict[str, Any],
        accepted: Accept,
    ) -> Reply:
        actions: list[Action] = []
        # A tapped answer turns the question into the next one (one API call, a tidy chat,
        # and within Telegram's 1 msg/s per chat); the answer shows as the tap's toast. The
        # welcome is the exception: it holds the privacy notice, so it stays readable.
        in_place = event.data is not None and state.step != LANGUAGE
        toast = None
        if in_place and accepted.echo:
            toast = self.deps.renderer.label(
                "labels.answered", self._locale(alumnus, event), echo=accepted.echo
            )
        elif event.data is not None:
            actions.append(await self._answered(tx, alumnus, state, event, accepted.echo))
        next_step = self._next(state, draft)
        history = [*state.data.get("history", []), state.step]
        state.data = {**state.data, "draft": draft, "history": history}
        if next_step is None:
            reply = await self._finish(tx, alumnus, state, event, actions)
            reply.toast = reply.toast or toast
            return reply
        state.step = next_step
        await tx.states.set(
            alumnus.id or 0, state.flow, next_step, state.data, self.deps.clock.now()
        )
        prompt = await self._prompt(tx, alumnus, state, event)
        actions.append(Edit(event.message_id or 0, prompt) if in_place else Send(prompt))
        return Reply(actions, toast)

    async def _answered(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState, event: Inbound, echo: str | None
    ) -> Action:
        """Turn the pressed question into a record of the answer, without buttons."""
        if not echo:
            return ClearButtons(event.message_id or 0)
        prompt = await self._prompt(tx, alumnus, state, event)
        answer = self.deps.renderer.text("common.answer", self._locale(alumnus, event), echo=echo)
        return Edit(event.message_id or 0, Outgoing(f"{prompt.text}\n\n{answer}"))

    async def _reject(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState, event: Inbound, reject: Reject
    ) -> Reply:
        locale = self._locale(alumnus, event)
        reason = self.deps.renderer.text(reject.reason, locale, **reject.ctx)
        prompt = await self._prompt(tx, alumnus, state, event)
        return Reply([Send(Outgoing(f"{reason}\n\n{prompt.text}", prompt.buttons))])

    async def _back(
        self, tx: Tx, alumnus: Alumnus, state: ConversationState, event: Inbound
    ) -> Reply:
        history = list(state.data.get("history", []))
        if not history:
            return await self._stale(tx, alumnus, state, event)
        state.step = history.pop()
        state.data = {**state.data, "history": history}
        await tx.states.set(
            alumnus.id or 0, state.flow, state.step, state.data, self.deps.clock.now()
        )
        prompt = await self._prompt(tx, alumnus, state, event)
        if state.step == LANGUAGE:  # back to the welcome: show it as a new message again
            return Reply([ClearButtons(event.message_id or 0), Send(prompt)])
        return Reply([Edit(event.message_id or 0, prompt)])

    async def _finish(
        self,
        tx: Tx,
        alumnus: Alumnus,
        state: ConversationState,
        event: Inbound,
        actions: list[Action] | None = None,
    ) -> Reply:
        """Write the answers to the profile in one go, end the flow, say what happened."""
        actions = list(actions or [])
        locale = self._locale(alumnus, event)
        draft = state.data.get("draft", {})
        steps = [
            STEPS[name]
            for name in (self._sequence(state) if state.flow == EDIT else PROFILE_STEPS)
        ]
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
            view = self._profile_view(alumnus)
            done = Outgoing(f"{text('profile.saved', locale)}\n\n{view.text}", view.buttons)
        # A tap replaces the last question with the result; a typed answer gets a new message.
        if event.data is not None and not actions:
            actions.append(Edit(event.message_id or 0, done))
        else:
            actions.append(Send(done))
        tx.alumni.save(alumnus, now)
        await tx.states.clear(alumnus.id or 0)
        return Reply(actions)

    # ----------------------------------------------------------------- profile

    def _summary(self, values: dict[str, Any], locale: str) -> list[tuple[str, str | None]]:
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

    def _profile_view(self, alumnus: Alumnus) -> Outgoing:
        locale = alumnus.locale or "nl"
        values = {name: getattr(alumnus, name) for name in PROFILE_FIELDS}
        renderer = self.deps.renderer
        buttons = [
            Button(renderer.label(f"labels.edit_{group}", locale), f"p:{group}")
            for group in PROFILE_GROUPS
        ]
        return Outgoing(
            renderer.text("profile.view", locale, rows=self._summary(values, locale)),
            rows(buttons, 2),
        )

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _locale(alumnus: Alumnus, event: Inbound) -> str:
        return alumnus.locale or pick_locale(event.language_code)
