"""The two bots under test, each served in its own process behind an aiohttp webhook.

The bot runs in a child process (as in production, where Telegram is another machine), so
the simulator and the driver in the parent do not share the bot's event loop or its core.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import logging
import multiprocessing
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

ALUMNIBOT = "alumnibot"
ECHO = "bare PTB"
PATH = "/telegram"


@dataclass(frozen=True)
class BotConfig:
    """What the child process needs to build and serve one bot."""

    kind: str
    token: str
    api_url: str
    file_url: str
    concurrent_updates: int
    database_url: str = ""
    profile_to: str | None = None


# ---------------------------------------------------------------------- child process


def child_main(config: BotConfig, conn: Connection) -> None:
    """Entry point of the bot process: serve until the parent says stop."""
    import bench  # noqa: F401  (sets PTB_TIMEDELTA before telegram is imported)

    logging.basicConfig(level=logging.WARNING, format="bot: %(levelname)s %(name)s %(message)s")
    profiler = cProfile.Profile() if config.profile_to else None
    try:
        asyncio.run(_serve(config, conn, profiler))
    finally:
        if profiler is not None and config.profile_to:
            profiler.dump_stats(config.profile_to)
        conn.close()


async def _serve(config: BotConfig, conn: Connection, profiler: cProfile.Profile | None) -> None:
    from telegram import Update

    secret = secrets.token_urlsafe(32)
    async with _bot(config, secret) as (application, web_app):
        await application.start()
        # The same server set-up as handlers.runner.run_webhook.
        runner = web.AppRunner(web_app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        if config.kind == ALUMNIBOT:
            from handlers.telegram.webhook import replay_unprocessed

            await replay_unprocessed(application)
        await application.bot.set_webhook(
            f"http://127.0.0.1:{port}{PATH}",
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
        commands: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def on_command() -> None:
            try:
                commands.put_nowait(conn.recv())
            except (EOFError, OSError):  # the parent is gone: shut down
                loop.remove_reader(conn.fileno())
                commands.put_nowait(("stop",))

        loop.add_reader(conn.fileno(), on_command)
        conn.send(("ready", port))
        try:
            while True:
                command = await commands.get()
                if command[0] == "cpu":
                    conn.send(("cpu", time.process_time()))
                elif command[0] == "profile":
                    if profiler is not None:
                        profiler.enable() if command[1] == "on" else profiler.disable()
                    conn.send(("profile", command[1]))
                else:
                    break
        finally:
            loop.remove_reader(conn.fileno())
            await runner.cleanup()
            await application.stop()
    with contextlib.suppress(OSError):
        conn.send(("stopped", time.process_time()))


@contextlib.asynccontextmanager
async def _bot(config: BotConfig, secret: str) -> AsyncIterator[tuple[Any, web.Application]]:
    """Build the bot and its webhook app; initialise and shut it down around the block."""
    if config.kind == ALUMNIBOT:
        from pydantic import SecretStr

        from bot.core.settings import Settings
        from handlers.telegram.app import build_application, running
        from handlers.telegram.webhook import webhook_app

        settings = Settings(
            _env_file=None,
            telegram_token=SecretStr(config.token),
            telegram_api_url=config.api_url,
            telegram_file_url=config.file_url,
            database_url=config.database_url,
            school_name="Benchcollege",
            secret_key=SecretStr("bench-secret-key"),
            concurrent_updates=config.concurrent_updates,
            log_level="WARNING",
        )
        application = build_application(settings, webhook=True)
        async with running(application):
            yield application, webhook_app(application, secret, PATH)
        return
    application = build_echo(config)
    await application.initialize()
    try:
        yield application, echo_webhook_app(application, secret, PATH)
    finally:
        await application.shutdown()


# ---------------------------------------------------------------------- the bare PTB bot


def build_echo(config: BotConfig) -> Any:
    """A bare PTB Application: echo text, answer button presses; no database."""
    from telegram import Update
    from telegram.ext import (
        ApplicationBuilder,
        CallbackQueryHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        await message.reply_text(message.text)

    async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()

    application = (
        ApplicationBuilder()
        .token(config.token)
        .base_url(config.api_url)
        .base_file_url(config.file_url)
        .updater(None)
        .concurrent_updates(config.concurrent_updates)
        .connection_pool_size(config.concurrent_updates)
        .pool_timeout(30)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(answer))
    return application


def echo_webhook_app(application: Any, secret: str, path: str) -> web.Application:
    """The webhook endpoint without the database: check, queue, 200."""
    import hmac

    from telegram import Update

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.json_response({"ok": False}, status=403)
        payload = await request.json()
        await application.update_queue.put(Update.de_json(payload, application.bot))
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(path, receive)
    return app


# ---------------------------------------------------------------------- parent side


class BotProcess:
    """The parent's handle on a bot process."""

    def __init__(self, config: BotConfig) -> None:
        self.config = config
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=child_main, args=(config, child_conn), name=f"bench-{config.kind}"
        )
        self._child_conn = child_conn
        self.port = 0

    @property
    def pid(self) -> int | None:
        """Return the child's process id."""
        return self._process.pid

    async def _recv(self, timeout: float) -> tuple[Any, ...]:  # noqa: ASYNC109
        if not await asyncio.to_thread(self._conn.poll, timeout):
            raise TimeoutError(f"{self.config.kind} process did not answer in {timeout}s")
        message: tuple[Any, ...] = self._conn.recv()
        return message

    async def start(self) -> None:
        """Start the process and wait until its webhook is registered."""
        self._process.start()
        self._child_conn.close()
        message = await self._recv(120)
        if message[0] != "ready":
            raise RuntimeError(f"unexpected message from the bot process: {message!r}")
        self.port = int(message[1])

    async def cpu_seconds(self) -> float:
        """Return the CPU time the bot process has used so far."""
        self._conn.send(("cpu",))
        return float((await self._recv(30))[1])

    async def profile(self, on: bool) -> None:
        """Switch the child's cProfile on or off (only with ``profile_to``)."""
        self._conn.send(("profile", "on" if on else "off"))
        await self._recv(30)

    async def stop(self) -> None:
        """Ask the bot to finish and wait for the process to exit."""
        if self._process.is_alive():
            try:
                self._conn.send(("stop",))
                await self._recv(60)
            except (OSError, EOFError, TimeoutError):
                pass
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():
            self._process.terminate()
            await asyncio.to_thread(self._process.join, 5)
        self._conn.close()
        if self._process.exitcode not in (0, None):
            raise RuntimeError(f"{self.config.kind} process exited with {self._process.exitcode}")


def profile_path(directory: Path | None, name: str) -> str | None:
    """Return where the child writes its cProfile stats, if profiling."""
    return str(directory / f"{name}.pstats") if directory is not None else None
