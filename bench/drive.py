"""Simulated alumni: the onboarding script, a closed loop and an open (fixed-rate) loop."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.probe import Probe, TimedSimulator
from sandbox.simulator import SimMessage, SimUser

SAY, TAP = "say", "tap"

# The onboarding of tests/test_onboarding.py: typed answers and tapped buttons.
ONBOARDING: tuple[tuple[str, str], ...] = (
    (SAY, "/start"),
    (TAP, "Nederlands"),
    (TAP, "Cursussen"),
    (TAP, "Nazorg"),
    (TAP, "Verder"),
    (TAP, "Noem me"),
    (SAY, "Zorgcampus"),
    (SAY, "verpleeg"),
    (TAP, "Mbo-Verpleegkundige"),
    (TAP, "BBL"),
    (SAY, "2025"),
    (TAP, "juli"),
    (TAP, "Ik werk"),
    (TAP, "Zorg"),
    (SAY, "35"),
    (TAP, "Leidinggeven"),
    (TAP, "AI en data"),
    (TAP, "Klaar"),
    (TAP, "Meteen"),
    (TAP, "Opslaan"),
)

ANSWER_TIMEOUT = 60.0


@dataclass
class Run:
    """What one measurement produced."""

    probes: list[Probe] = field(default_factory=list)
    wall: float = 0.0

    @property
    def latencies(self) -> list[float]:
        """Seconds from creation to first answer, per update."""
        return [p.latency for p in self.probes]

    @property
    def scheduled_latencies(self) -> list[float]:
        """Seconds from the scheduled send time to first answer (open loop)."""
        return [p.latency + p.lag for p in self.probes]


class Alumnus:
    """One simulated person working through the script.

    Against Alumnibot a tap presses the real button with that label (the latest bot message
    that has it); against the echo bot, which shows no buttons, a tap presses made-up data.
    """

    def __init__(self, sim: TimedSimulator, user: SimUser, *, real_buttons: bool) -> None:
        self.sim, self.user, self.real_buttons = sim, user, real_buttons

    async def act(self, action: str, argument: str) -> Probe:
        """Send or press; return the armed probe (its future resolves on the answer)."""
        chat_id = self.user.id
        if action == SAY:
            probe = self.sim.arm(chat_id, "message")
            await self.sim.user_sends(self.user, argument)
            return probe
        if self.real_buttons:
            message, data = await self._button(argument)
            probe = self.sim.arm(chat_id, "callback_query")
            await self.sim.user_presses(self.user, message.message_id, data)
            return probe
        probe = self.sim.arm(chat_id, "callback_query")
        await self.sim.user_presses(self.user, 1, f"bench:{argument}"[:64])
        return probe

    async def _button(self, label: str) -> tuple[SimMessage, str]:
        """Find the button, waiting (on the chat's change signal) if it is not there yet."""
        watch = self.sim.watch(self.user.id)
        wanted = label.casefold()
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while True:
                watch.changed.clear()
                for message in reversed(self.sim.bot_messages(self.user.id)):
                    markup = message.reply_markup or {}
                    for row in markup.get("inline_keyboard", []):
                        for button in row:
                            data = button.get("callback_data")
                            if data and wanted in button["text"].casefold():
                                return message, data
                await watch.changed.wait()


async def answered(probe: Probe) -> None:
    """Wait until the bot has answered the update, with a clear error if it never does."""
    try:
        await asyncio.wait_for(asyncio.shield(probe.done), ANSWER_TIMEOUT)
    except TimeoutError:
        raise TimeoutError(
            f"update {probe.update_id} ({probe.kind}) in chat {probe.chat_id} "
            f"not answered within {ANSWER_TIMEOUT}s"
        ) from None


def make_alumni(sim: TimedSimulator, count: int, *, real_buttons: bool) -> list[Alumnus]:
    """Create ``count`` users (Dutch clients) in the simulator."""
    return [
        Alumnus(
            sim, sim.create_user(first_name="Sanne", language_code="nl"), real_buttons=real_buttons
        )
        for _ in range(count)
    ]


async def closed_loop(
    alumni: Sequence[Alumnus], script: Sequence[tuple[str, str]] = ONBOARDING
) -> Run:
    """Everyone at once; each sends the next update only after the last one was answered."""
    run = Run()

    async def one(alumnus: Alumnus) -> None:
        for action, argument in script:
            probe = await alumnus.act(action, argument)
            await answered(probe)
            run.probes.append(probe)

    started = time.perf_counter()
    await asyncio.gather(*(one(a) for a in alumni))
    run.wall = time.perf_counter() - started
    return run


async def open_loop(
    alumni: Sequence[Alumnus], rate: float, script: Sequence[tuple[str, str]] = ONBOARDING
) -> Run:
    """Offer ``rate`` updates/s in total, whatever the bot does.

    Alumnus i sends step k at ``i / rate + k * len(alumni) / rate`` seconds, so the updates
    of all alumni fall on one even grid of 1/rate. A step whose previous answer has not come
    by its time is sent as soon as it does (counted as send lag); the latency measured from
    the scheduled time includes that wait.
    """
    run = Run()
    loop = asyncio.get_running_loop()
    period = len(alumni) / rate

    async def one(index: int, alumnus: Alumnus, start: float) -> None:
        previous: Probe | None = None
        for step, (action, argument) in enumerate(script):
            due = start + index / rate + step * period
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if previous is not None:
                await answered(previous)
                run.probes.append(previous)
            lag = max(0.0, loop.time() - due)
            previous = await alumnus.act(action, argument)
            previous.lag = lag
        assert previous is not None
        await answered(previous)
        run.probes.append(previous)

    start = loop.time() + 0.05
    started = time.perf_counter()
    await asyncio.gather(*(one(i, a, start) for i, a in enumerate(alumni)))
    run.wall = time.perf_counter() - started
    return run


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
