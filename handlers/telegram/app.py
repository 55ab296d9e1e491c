"""The one wiring point: builds the PTB Application with every service and handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import BotCommand, BotCommandScopeDefault, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, TypeHandler

from bot.chat.commands import COMMANDS
from bot.core.clock import Clock
from bot.core.messenger import Outgoing, Send, UnreachableError
from bot.core.render import DEFAULT_LOCALE, LOCALES, pick_locale
from bot.core.settings import Settings
from handlers import jobs
from handlers.graph import build_graph, make_deps
from handlers.telegram import chat
from handlers.telegram.context import AlumniContext, BotData
from handlers.telegram.messenger import TelegramMessenger
from handlers.telegram.processor import PerChatUpdateProcessor
from handlers.telegram.request import AiohttpRequest
from handlers.telegram.rights import check_staff_groups
from storage.migrate import upgrade

logger = logging.getLogger(__name__)

AlumniApplication = Application[Any, AlumniContext, Any, Any, BotData, Any]


def build_application(
    settings: Settings, *, clock: Clock | None = None, webhook: bool = False
) -> AlumniApplication:
    """Create the Application: HTML defaults, services, handlers in order, error handler.

    Args:
        settings: the deployment's settings; a token is required (the sandbox sets one).
        clock: time source; tests pass a frozen clock.
        webhook: build without an Updater; updates arrive through ``handlers.telegram.webhook``.
    """
    if settings.telegram_token is None:
        raise ValueError("build_application needs a token; the sandbox provides one")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .context_types(ContextTypes(context=AlumniContext, bot_data=BotData))
        .concurrent_updates(PerChatUpdateProcessor(settings.concurrent_updates))
        # One HTTP connection per concurrent update, or sends queue behind each other.
        .request(AiohttpRequest(settings.concurrent_updates))
        .get_updates_request(AiohttpRequest())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.telegram_api_url:
        builder = builder.base_url(settings.telegram_api_url)
        builder = builder.base_file_url(
            settings.telegram_file_url or settings.telegram_api_url.replace("/bot", "/file/bot")
        )
    if webhook:
        builder = builder.updater(None)
    application: AlumniApplication = builder.build()

    messenger = TelegramMessenger(application.bot, settings.group_messages_per_minute)
    graph = build_graph(make_deps(settings, messenger=messenger, clock=clock))
    # Direct replies Telegram would take only much later: the outbox sends them.
    messenger.defer_to(graph.dispatcher.queue_replies)
    application.bot_data.graph = graph
    # Group 0: every handler in its one ordered list (``handlers.telegram.chat``). Each
    # claims its update_id in the transaction that handles it (a resend is skipped there).
    application.add_handlers(chat.handlers())
    # Group 1 runs after the features: it claims the updates none of them handled.
    application.add_handler(TypeHandler(Update, chat.claim_unhandled), group=1)
    application.add_error_handler(_on_error)
    assert application.job_queue is not None  # python-telegram-bot[job-queue] is a dependency
    jobs.schedule(application.job_queue)
    return application


@asynccontextmanager
async def running(
    application: AlumniApplication, *, dispatch: bool = True
) -> AsyncIterator[AlumniApplication]:
    """Initialise and shut down around a block, running the post_init/post_shutdown hooks.

    PTB calls those hooks only from ``run_polling``/``run_webhook``; we drive the lifecycle
    ourselves because the aiohttp webhook server and the simulator share the event loop.
    The outbox dispatcher runs in between (``dispatch=False``: tests drive it by hand); it
    stops before the Bot's HTTP client closes, finishing the batch in hand.
    """
    await application.initialize()
    dispatcher = application.bot_data.graph.dispatcher
    try:
        if application.post_init:
            await application.post_init(application)
        if dispatch:
            dispatcher.start()
        yield application
    finally:
        await dispatcher.stop()
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)


async def _post_init(application: AlumniApplication) -> None:
    """Migrate the database, publish the command menu, check the staff groups."""
    deps = application.bot_data.graph.deps
    await upgrade(deps.storage.engine)
    await publish_commands(application)
    await publish_descriptions(application)
    await check_staff_groups(application)


async def publish_commands(application: AlumniApplication) -> None:
    """Register the command menu: Dutch by default, English for English-speaking clients."""
    renderer = application.bot_data.graph.deps.renderer
    for locale in LOCALES:
        commands = [
            BotCommand(getattr(c, locale), renderer.label(f"labels.cmd_{c.key}", locale))
            for c in COMMANDS
        ]
        language_code = None if locale == DEFAULT_LOCALE else locale
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=language_code
        )


async def publish_descriptions(application: AlumniApplication) -> None:
    """Set what Telegram shows before /start ("What can this bot do?") and on the profile.

    Dutch by default, English for English-speaking clients, like the command menu.
    """
    deps = application.bot_data.graph.deps
    school = deps.settings.school_name
    for locale in LOCALES:
        language_code = None if locale == DEFAULT_LOCALE else locale
        description = deps.renderer.label("common.bot_description", locale, school=school)
        short = deps.renderer.label("common.bot_short_description", locale, school=school)
        await application.bot.set_my_description(description, language_code=language_code)
        await application.bot.set_my_short_description(short, language_code=language_code)


async def _post_shutdown(application: AlumniApplication) -> None:
    """Close the database pool."""
    await application.bot_data.graph.deps.storage.dispose()


async def _on_error(update: object, context: AlumniContext) -> None:
    """Log the failure (never the message body), settle the update, tell the person politely.

    The failed handling rolled back its claim of the update. It is claimed here, in a
    transaction of its own: otherwise a webhook update that always fails (a bug) would be
    replayed, and apologised for, at every start. If the database itself failed, this claim
    fails too and the update stays for the replay.
    """
    logger.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    deps = context.deps
    try:
        async with deps.storage.transaction() as tx:
            await tx.updates.claim(update.update_id, deps.clock.now())
    except Exception:
        logger.exception("could not settle update %s after its error", update.update_id)
    if update.effective_chat is None or update.effective_chat.type != "private":
        return
    user = update.effective_user
    locale = pick_locale(user.language_code if user else None)
    async with deps.storage.transaction() as tx:
        alumnus = await tx.alumni.by_chat(update.effective_chat.id)
    if alumnus is not None and alumnus.locale:
        locale = alumnus.locale
    try:
        await deps.messenger.perform(
            update.effective_chat.id, [Send(Outgoing(deps.renderer.text("common.error", locale)))]
        )
    except UnreachableError:
        return
    except Exception:
        logger.exception("could not tell the person about the error")
