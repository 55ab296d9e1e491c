"""Run the bot: long polling, webhook, or the offline sandbox (simulator + web chat).

In every mode the coordinator web console is served next to the bot, in the same event loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlparse

from aiohttp import web
from pydantic import SecretStr
from telegram import Update

from bot.core.settings import Settings
from bot.staff.service import DuplicateError, StaffService
from handlers.cli.setup import ensure_teams, routed_teams
from handlers.telegram.app import AlumniApplication, build_application, running
from handlers.telegram.webhook import replay_unprocessed, webhook_app
from handlers.web import console_app

logger = logging.getLogger(__name__)


def _stop_event() -> asyncio.Event:
    """Return an event set on SIGINT or SIGTERM, for a graceful shutdown."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)
    return event


@asynccontextmanager
async def serving_console(application: AlumniApplication) -> AsyncIterator[str]:
    """Serve the coordinator console on ``web_host:web_port`` for the block; yield its URL.

    Enter it inside ``running()``: the console uses the application's database engine, which
    ``running()`` disposes of on the way out, after the console has stopped.
    """
    settings = application.bot_data.graph.deps.settings
    # The bot's own graph: web answers are queued and sent like Telegram ones.
    app = console_app(application.bot_data.graph, bot_username=application.bot.username)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.web_host, settings.web_port)
        await site.start()
        url = f"http://{settings.web_host}:{settings.web_port}/inbox"
        logger.info("coordinator console at %s", url)
        yield url
    finally:
        # Stops accepting, lets requests in flight finish, then closes.
        await runner.cleanup()
        logger.info("coordinator console stopped")


async def run_polling(
    application: AlumniApplication,
    stop: asyncio.Event,
    ready: Callable[[AlumniApplication, str], Awaitable[None]] | None = None,
) -> None:
    """Long-poll until ``stop`` is set; finish the updates in hand, then close.

    ``ready`` is awaited with the console's URL once the database is migrated, the console
    serves and the bot polls (the sandbox prints its demo login then).
    """
    async with running(application), serving_console(application) as console_url:
        await application.start()
        assert application.updater is not None
        await application.bot.delete_webhook()
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        logger.info("polling for updates")
        if ready is not None:
            await ready(application, console_url)
        await stop.wait()
        logger.info("stopping")
        await application.updater.stop()
        await application.stop()


async def run_webhook(
    settings: Settings,
    application: AlumniApplication,
    stop: asyncio.Event,
    ready: Callable[[AlumniApplication, str], Awaitable[None]] | None = None,
) -> None:
    """Serve the webhook until ``stop`` is set; setWebhook on start with a secret token.

    ``ready`` is awaited with the console's URL once the webhook is set.
    """
    if not settings.webhook_url:
        # `alumnibot run --webhook` refuses this first, in the CLI's words.
        raise ValueError("webhook mode needs ALUMNIBOT_WEBHOOK_URL")
    secret = (
        settings.webhook_secret.get_secret_value()
        if settings.webhook_secret
        else secrets.token_urlsafe(32)
    )
    path = urlparse(settings.webhook_url).path or "/telegram"
    runner = web.AppRunner(webhook_app(application, secret, path), handle_signals=False)
    async with running(application), serving_console(application) as console_url:
        await application.start()
        await runner.setup()
        site = web.TCPSite(runner, settings.listen_host, settings.listen_port)
        await site.start()
        await replay_unprocessed(application)
        await application.bot.set_webhook(
            settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        logger.info(
            "webhook listening on %s:%s%s", settings.listen_host, settings.listen_port, path
        )
        if ready is not None:
            await ready(application, console_url)
        await stop.wait()
        logger.info("stopping: no new updates accepted, finishing the queued ones")
        await runner.cleanup()
        await application.stop()


SANDBOX_TEAM = ("demo", "Demo-team")
SANDBOX_COORDINATOR = ("demo@sandbox.example", "Demo Coördinator")


async def ensure_sandbox_demo(
    staff: StaffService, settings: Settings, teams: Sequence[tuple[str, str]] = ()
) -> str:
    """Create the teams and the demo coordinator if missing, in every team; return its password.

    A new sandbox has no teams and no accounts: questions typed in the web chat would go to
    a team nobody can see. It gets the teams ``alumnibot setup`` would make (``teams``: from
    content/inbox.yaml), so it routes like a school that is set up, and the demo coordinator
    is in every one of them. Its password is new at every start (only its hash is kept), so
    nobody can work it out.
    """
    await ensure_teams(staff, list(teams))
    code, name = SANDBOX_TEAM
    email, display_name = SANDBOX_COORDINATOR
    password = secrets.token_urlsafe(12)
    with suppress(DuplicateError):
        await staff.add_team(code, name)
    if email not in {m.email for m in await staff.list_staff()}:
        with suppress(DuplicateError):  # a second sandbox on the same database was quicker
            await staff.add_staff(email, display_name, "coordinator", password, [code])
    await staff.set_password(email, password)
    for team in await staff.list_teams():
        await staff.join_team(email, team.code)
    return password


def _sandbox_ready(
    settings: Settings, chat_url: str, locale: str
) -> Callable[[AlumniApplication, str], Awaitable[None]]:
    async def ready(application: AlumniApplication, console_url: str) -> None:
        graph = application.bot_data.graph
        password = await ensure_sandbox_demo(graph.staff, settings, routed_teams(graph))
        logger.info(
            "sandbox: demo coordinator %s can sign in to the console", SANDBOX_COORDINATOR[0]
        )
        # The password goes to the terminal, never into the log.
        banner = graph.deps.renderer.label(
            "cli/run.sandbox_login",
            locale,
            chat_url=chat_url,
            console_url=console_url,
            email=SANDBOX_COORDINATOR[0],
            password=password,
            team=SANDBOX_TEAM[0],
        )
        sys.stdout.write(f"\n{banner}\n\n")
        sys.stdout.flush()

    return ready


async def run_sandbox(settings: Settings, stop: asyncio.Event, locale: str = "nl") -> None:
    """Start the Bot API simulator with its web chat, and the bot polling it.

    The sandbox has a demo team and coordinator; their login is printed once it runs.
    """
    from sandbox.simulator import BotApiSimulator

    simulator = BotApiSimulator(
        token="123456:SANDBOX-alumnibot-offline-token-0000", local_mode=True
    )
    await simulator.start(host=settings.sandbox_host, port=settings.sandbox_port)
    sandbox_settings = settings.model_copy(
        update={
            "telegram_token": SecretStr(simulator.token),
            "telegram_api_url": simulator.api_base_url,
            "telegram_file_url": simulator.file_base_url,
            # The sandbox is local plain http: a Secure cookie would never come back.
            "web_cookie_secure": False,
        }
    )
    logger.info("sandbox: chat with the bot at %s", simulator.url)
    try:
        await run_polling(
            build_application(sandbox_settings),
            stop,
            ready=_sandbox_ready(sandbox_settings, simulator.url, locale),
        )
    finally:
        await simulator.stop()


async def retire_sandbox_demo(application: AlumniApplication, console_url: str) -> None:
    """Disable the sandbox's demo coordinator in a real deployment.

    A database first used by the sandbox may go on in production; the demo password is
    derived from the secret key, which in the sandbox is often the public development value.
    """
    staff = application.bot_data.graph.staff
    email = SANDBOX_COORDINATOR[0]
    if any(m.email == email and m.active for m in await staff.list_staff()):
        await staff.disable(email)
        logger.warning("the sandbox's demo coordinator %s is disabled: this is no sandbox", email)


async def run(settings: Settings, *, webhook: bool, locale: str = "nl") -> None:
    """Pick the mode from the settings and run until SIGINT or SIGTERM.

    ``locale`` is the language of what is printed for a person (the sandbox's login).
    """
    stop = _stop_event()
    if settings.sandbox:
        await run_sandbox(settings, stop, locale)
    elif webhook:
        application = build_application(settings, webhook=True)
        await run_webhook(settings, application, stop, ready=retire_sandbox_demo)
    else:
        await run_polling(build_application(settings), stop, ready=retire_sandbox_demo)
