"""The chat router's table: every button kind and command answered once, every flow resumable.

The walk at the end sends every command from every state a flow can be in, through the
simulator and the real application: each must resume the flow or leave it cleanly, never
end in the apology for an error (a ``KeyError`` in /start during a question used to).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.chat.commands import COMMANDS
from bot.chat.router import ChatRouter
from bot.core.callbacks import MAX_CALLBACK_BYTES, CallbackDataError, CallbackRegistry
from bot.core.clock import FrozenClock
from bot.core.messenger import QueueOnlyMessenger
from bot.core.settings import Settings
from handlers.graph import build_graph, make_deps
from handlers.telegram.app import AlumniApplication
from sandbox.simulator import BotApiSimulator
from storage.models import Alumnus
from tests.chat import Chat
from tests.harness import processed_of


@pytest.fixture
async def graph(settings: Settings, clock: FrozenClock) -> Any:
    deps = make_deps(settings, messenger=QueueOnlyMessenger("the test"), clock=clock)
    try:
        yield build_graph(deps)
    finally:
        await deps.storage.dispose()


def test_every_button_kind_has_one_handler_and_fits_telegram(graph: Any) -> None:
    declared = [kind.prefix for kind in graph.router.callbacks]
    answered = graph.router.answered_kinds()
    assert sorted(answered) == sorted(declared)
    assert len(set(answered)) == len(answered)
    for kind in graph.router.callbacks:
        longest = f"{kind.prefix}:{kind.longest}"
        assert len(longest.encode()) <= MAX_CALLBACK_BYTES, longest
        assert graph.router.callbacks.parse(longest) is not None, longest


def test_every_menu_command_has_a_handler(graph: Any) -> None:
    assert sorted(graph.router.commands()) == sorted(c.key for c in COMMANDS)


def test_a_prefix_or_a_handler_can_be_declared_only_once(graph: Any) -> None:
    registry = CallbackRegistry()
    kind = registry.declare("z", lambda payload: payload or None, longest="a")
    with pytest.raises(CallbackDataError):
        registry.declare("z", lambda payload: payload, longest="b")
    with pytest.raises(CallbackDataError):
        registry.declare("y", lambda payload: payload, longest="x" * 63)
    with pytest.raises(CallbackDataError):
        kind.build("x" * 64)
    router = ChatRouter(graph.deps, registry)

    async def handler(turn: Any, value: Any) -> Any:
        return None

    router.button(kind, handler)
    with pytest.raises(ValueError, match="two handlers"):
        router.button(kind, handler)


def test_damaged_button_data_is_stale_not_an_error(graph: Any) -> None:
    parse = graph.router.callbacks.parse
    for data in (
        "",
        ":",
        "f",
        "f:",
        "f::",
        "o:i:",
        "o:i:abc",
        "o:z:1",
        "r:1:9",
        "r:x:1",
        "c:nonsense",
        "l:de",
        "p:password",
        "x:",
        "x:12.",
        "v:-1",
        "zz:1",
        "q:",
    ):
        assert parse(data) is None, data


DRAFT: dict[str, Any] = {
    "first_name": "Sanne",
    "location": None,
    "crebo": None,
    "level": None,
    "track": None,
    "graduation_year": None,
    "graduation_month": None,
    "still_studying": False,
    "situation": None,
    "sector": None,
    "region": None,
    "interests": [],
    "offer_frequency": None,
}
# (onboarded, flow, step, data): every place a person can stand in an open flow.
STATES: list[tuple[bool, str, str, dict[str, Any]]] = [
    (False, "onboarding", "language", {"draft": {}, "history": []}),
    (False, "onboarding", "consent", {"draft": {}, "history": ["language"]}),
    (False, "onboarding", "programme", {"draft": DRAFT, "history": ["language", "consent"]}),
    (False, "onboarding", "confirm", {"draft": DRAFT, "history": ["language", "consent"]}),
    (True, "edit", "region", {"group": "region", "draft": DRAFT, "history": []}),
    (True, "edit", "level", {"group": "programme", "draft": DRAFT, "history": ["programme"]}),
    (True, "question", "topic", {"pending": []}),
    (True, "question", "topic", {"pending": [{"message_id": 1, "kind": "text", "text": "Hoi"}]}),
    (True, "question", "text", {"topic": "work"}),
    (True, "checkin", "study_name", {"checkin": 999}),
    (True, "a-flow-that-was-removed", "step", {}),
]
TYPED = [f"/{c.nl}" for c in COMMANDS] + [f"/{c.en}" for c in COMMANDS] + ["/onbekend"]


async def _in_state(
    sim: BotApiSimulator, app: AlumniApplication, state: tuple[bool, str, str, dict[str, Any]]
) -> Chat:
    onboarded, flow, step, data = state
    user = sim.create_user(first_name="Sanne", language_code="nl")
    deps = app.bot_data.graph.deps
    async with deps.storage.transaction() as tx:
        alumnus: Alumnus = await tx.alumni.create(user.id, deps.clock.now())
        alumnus.locale = "nl"
        if onboarded:
            alumnus.onboarded_at = deps.clock.now()
            alumnus.first_name = "Sanne"
        tx.alumni.save(alumnus, deps.clock.now())
        assert alumnus.id is not None
        await tx.states.set(alumnus.id, flow, step, data, deps.clock.now())
    return Chat(sim, processed_of(app), user)


@pytest.mark.parametrize("state", STATES, ids=lambda s: f"{s[1]}-{s[2]}-{len(s[3])}")
async def test_every_command_from_every_flow_state_resumes_or_leaves_cleanly(
    sim: BotApiSimulator, app: AlumniApplication, state: tuple[bool, str, str, dict[str, Any]]
) -> None:
    renderer = app.bot_data.graph.deps.renderer
    apology = renderer.text("common.error", "nl")
    resume = renderer.text("common.resume", "nl")
    known_flow = state[1] != "a-flow-that-was-removed"
    for typed in TYPED:
        chat = await _in_state(sim, app, state)
        replies = await chat.say(typed)
        texts = [m.text or "" for m in replies]
        assert replies, f"{typed} in {state[1]}/{state[2]}: no answer"
        assert not any(apology in t for t in texts), f"{typed} in {state[1]}/{state[2]}"
        if typed == "/start" and known_flow:
            assert resume in texts[0], f"/start in {state[1]}/{state[2]}: {texts}"
        # Whatever the command did, the person can go on: a typed word is answered too.
        after = await chat.say("hallo")
        assert after and not any(apology in (m.text or "") for m in after), typed
