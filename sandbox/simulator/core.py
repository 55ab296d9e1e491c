"""The simulator object: state, the HTTP server, user actions and waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.simulator import forum, media  # noqa: F401  (registers their Bot API methods)
from sandbox.simulator.methods import METHODS, TOPIC_GONE_ANSWERS
from sandbox.simulator.models import (
    JSON,
    TOPIC_COLORS,
    ApiError,
    FaultSet,
    SimChat,
    SimMessage,
    SimTopic,
    SimUser,
    Stats,
    StoredFile,
)
from sandbox.simulator.params import read_params
from sandbox.simulator.ratelimit import RateLimiter
from sandbox.simulator.updates import (
    CHANNEL_BOT,
    DEFAULT_UPDATE_TYPES,
    GROUP_ANONYMOUS_BOT,
    MEDIA_FIELDS,
    ChatRef,
    chat_id_of,
    chat_member,
    media_content,
    message_view,
    shallow,
    update_kind,
)
from sandbox.simulator.webapi import add_user_routes
from sandbox.simulator.webhook import WebhookDispatcher

logger = logging.getLogger(__name__)

# A new getUpdates waits this long for an earlier one to finish before answering 409; this
# covers a client that just cancelled its long poll (the server notices the closed socket a
# moment later).
POLL_HANDOVER_SECONDS = 0.25

# How long a button press can be answered. Telegram does not document it; clients give up
# on the spinner after about 15 seconds and the server then answers QUERY_ID_INVALID
# (telegram-bot-api Client.cpp turns that into "query is too old and response timeout
# expired or query ID is invalid").
CALLBACK_QUERY_TTL = 15.0

# Member statuses set_member_status accepts (restricted is not modelled).
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})
_PRESENT = frozenset({"creator", "administrator", "member"})


class BotApiSimulator:
    """A local Telegram Bot API server for one bot, plus the user side and a web chat.

    Args:
        token: the bot token the server accepts; any other token gets 401.
        bot_username: the bot's username (without @).
        bot_first_name: the bot's display name.
        enforce_rate_limits: answer 429 like Telegram when sends exceed its limits.
        strict_html: treat a bare "&" in HTML text as an error (see ``tghtml``).
        privacy_mode: the bot's group privacy (BotFather's default: on). A bot in privacy
            mode that is not an admin gets only commands, replies to its own messages (in a
            topic it created, every message is one) and service messages from groups.
        callback_query_ttl: seconds after a button press that answerCallbackQuery still
            works; later it answers "query is too old..." like Telegram.
        local_mode: like telegram-bot-api's ``--local``: setWebhook accepts any http(s) URL
            and port. Off by default: HTTPS on ports 80, 88, 443 or 8443 only.
    """

    def __init__(
        self,
        token: str = "123456:TEST-abc",
        bot_username: str = "alumnibot_test_bot",
        bot_first_name: str = "Alumnibot",
        enforce_rate_limits: bool = False,
        *,
        strict_html: bool = True,
        privacy_mode: bool = True,
        callback_query_ttl: float = CALLBACK_QUERY_TTL,
        local_mode: bool = False,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.enforce_rate_limits = enforce_rate_limits
        self.strict_html = strict_html
        self.privacy_mode = privacy_mode
        self.callback_query_ttl = callback_query_ttl
        self.local_mode = local_mode
        # The bot's administrator rights per group (overrides of the full set).
        self.bot_rights: dict[int, JSON] = {}
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1
        self.bot_user = SimUser(
            id=self.bot_id,
            first_name=bot_first_name,
            username=bot_username,
            language_code=None,
            is_bot=True,
        )
        self.faults = FaultSet()
        self.stats = Stats()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.callback_answers: list[JSON] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}  # (field, language) -> text
        self.webhook: JSON | None = None
        self.webhook_deliveries: list[JSON] = []
        # Webhook retries follow Telegram's back-off (webhook.py), scaled by this factor so
        # tests need not wait minutes; a tuple in webhook_retry_delays replaces the
        # schedule with fixed waits and gives up after them.
        self.webhook_time_scale = 1.0
        self.webhook_retry_delays: tuple[float, ...] | None = None
        self.last_update_id = 0
        self.url = ""
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self.rate_limiter = RateLimiter()
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.not_started: set[int] = set()
        self.bot_groups: set[int] = set()
        self.files: dict[str, StoredFile] = {}
        self.forum_topics: dict[int, dict[int, SimTopic]] = {}
        # Deleted topics: what a send into one answers (see ``delete_topic``).
        self.deleted_topics: dict[int, dict[int, str]] = {}
        # Groups upgraded to supergroups: old id -> new id (see ``upgrade_group``).
        self.migrated: dict[int, int] = {}
        self.members: dict[int, dict[int, str]] = {}
        self.callbacks: dict[str, JSON] = {}
        self.chat_actions: list[JSON] = []
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._user_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(4_000_000_000_001)
        self._message_ids: dict[int, int] = {}
        self._log: dict[int, list[SimMessage]] = {}
        self._bot_log: dict[int, list[SimMessage]] = {}
        self._messages: dict[tuple[int, int], SimMessage] = {}
        self._updates: deque[JSON] = deque()
        self._updates_unordered = False
        self._held: dict[str, deque[JSON]] | None = None
        self._reorder = random.Random()
        self._update_event: asyncio.Event | None = None
        self._state_event: asyncio.Event | None = None
        self._poll_done: asyncio.Event | None = None
        self._subscribers: dict[int, set[asyncio.Queue[JSON | None]]] = {}
        self._webhook_delivery = WebhookDispatcher(self)
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.session: aiohttp.ClientSession | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def api_base_url(self) -> str:
        """Return the base_url to give PTB (it appends the token and method)."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """Return the base_file_url to give PTB."""
        return f"{self.url}/file/bot"

    def build_app(self) -> web.Application:
        """Return the aiohttp application serving the Bot API, user API and web chat."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file_download)
        add_user_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving on host:port (0 picks a free port) and set ``url``."""
        self._closing = False
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        # handler_cancellation: a client that gives up (e.g. PTB cancelling its long poll)
        # must end the server-side handler too, or it would look like a second consumer.
        self._runner = web.AppRunner(
            self.build_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound_port}"
        logger.info("Bot API simulator listening on %s", self.url)

    async def stop(self) -> None:
        """Stop serving, end long polls and event streams, cancel webhook deliveries."""
        self._closing = True
        self.wake_pollers()
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(None)
        await self._webhook_delivery.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def __aenter__(self) -> BotApiSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def webhook_delivery(self) -> WebhookDispatcher:
        """Return the webhook delivery (the setWebhook/deleteWebhook methods drive it)."""
        return self._webhook_delivery

    # ------------------------------------------------------------ HTTP: Bot API

    def _respond(self, status: int, body: JSON) -> web.Response:
        self.stats.responses[status] += 1
        self.notify()
        return web.Response(
            status=status, body=json.dumps(body).encode(), content_type="application/json"
        )

    def _error(self, error: ApiError) -> web.Response:
        return self._respond(error.status, error.payload())

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(ApiError(401, "Unauthorized"))
        method = METHODS.get(request.match_info["method"].lower())
        if method is None:
            return self._error(ApiError(404, "Not Found: method not found"))
        try:
            params = await read_params(request)
        except ApiError as error:
            return self._error(error)
        self.requests.append((method.name, params.record()))
        self.stats.calls[method.name] += 1
        self.notify()
        drop_after = False
        if self.faults:
            raw_chat = params.raw("chat_id")
            try:
                chat_id = int(raw_chat) if raw_chat is not None else None
            except (TypeError, ValueError):
                chat_id = None
            fault = self.faults.pick(method.name, chat_id)
            if fault is not None:
                self.stats.faults_injected[fault.kind] += 1
                if fault.kind == "429":
                    self.stats.rate_limited += 1
                    return self._error(
                        ApiError(
                            429,
                            f"Too Many Requests: retry after {fault.retry_after}",
                            fault.retry_after,
                        )
                    )
                if fault.kind == "5xx":
                    return self._error(ApiError(502, "Bad Gateway"))
                if fault.kind == "drop_before":
                    return self._drop(request)
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay)
                drop_after = fault.kind == "drop_after_accept"
        try:
            result = await method.func(self, params)
        except ApiError as error:
            if error.status == 429:
                self.stats.rate_limited += 1
            return self._error(error)
        except Exception:
            # A simulator bug or input it does not model: answer like Telegram's rare 500s
            # instead of aiohttp's HTML error page, and keep the traceback in the log.
            logger.exception("Simulator failed on %s", method.name)
            return self._error(ApiError(500, "Internal Server Error"))
        if drop_after:
            return self._drop(request)
        return self._respond(200, {"ok": True, "result": result})

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without answering; aiohttp then skips writing the response."""
        if request.transport is not None:
            request.transport.close()
        self.stats.responses[0] += 1
        return web.Response(status=204)

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized()
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.data, content_type=stored.mime_type or "application/octet-stream"
                )
        raise web.HTTPNotFound()

    # ------------------------------------------------------------ state changes

    def notify(self) -> None:
        """Wake everything waiting for a state change."""
        event = self._state_event
        if event is not None:
            self._state_event = None
            event.set()

    def publish(self, chat_id: int, event: JSON) -> None:
        """Send an event to the web chat streams watching chat_id."""
        queues = self._subscribers.get(chat_id)
        if queues:
            for queue in queues:
                queue.put_nowait(event)

    def subscribe(self, chat_id: int) -> asyncio.Queue[JSON | None]:
        """Return a queue receiving this chat's events until ``unsubscribe``."""
        queue: asyncio.Queue[JSON | None] = asyncio.Queue()
        self._subscribers.setdefault(chat_id, set()).add(queue)
        return queue

    def unsubscribe(self, chat_id: int, queue: asyncio.Queue[JSON | None]) -> None:
        """Stop delivering events to queue."""
        queues = self._subscribers.get(chat_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[chat_id]

    def wake_pollers(self) -> None:
        """Wake a waiting getUpdates (a new update, a webhook change, the server stopping)."""
        event = self._update_event
        if event is not None:
            self._update_event = None
            event.set()

    def next_message_id(self, chat_id: int) -> int:
        """Return the next message id in a chat (ids are per chat, like Telegram)."""
        value = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = value
        return value

    def store_message(self, message: SimMessage) -> SimMessage:
        """Record a new message (from the bot or a user) and announce it.

        Service messages (kind "service", e.g. forum_topic_created) stay out of
        ``bot_messages`` even when the bot caused them; ``chat_messages`` has them.
        """
        self._log.setdefault(message.chat_id, []).append(message)
        self._messages[(message.chat_id, message.message_id)] = message
        if message.from_bot and message.kind != "service":
            self._bot_log.setdefault(message.chat_id, []).append(message)
            self.stats.messages_sent += 1
        if message.chat_id in self._subscribers:
            self.publish(message.chat_id, {"event": "message", "data": message_view(message)})
        self.notify()
        return message

    def message_changed(self, message: SimMessage) -> None:
        """Announce that a stored message was edited."""
        if message.chat_id in self._subscribers:
            self.publish(message.chat_id, {"event": "message", "data": message_view(message)})
        self.notify()

    def remove_message(self, message: SimMessage) -> None:
        """Delete a stored message."""
        key = (message.chat_id, message.message_id)
        self._messages.pop(key, None)
        for log in (self._log.get(message.chat_id), self._bot_log.get(message.chat_id)):
            if log is not None and message in log:
                log.remove(message)
        self.publish(message.chat_id, {"event": "delete", "data": {"message_id": key[1]}})
        self.notify()

    def get_message(self, chat_id: int, message_id: int) -> SimMessage | None:
        """Return a stored message or None."""
        return self._messages.get((chat_id, message_id))

    def chat_messages(self, chat: ChatRef, after: int = 0) -> list[SimMessage]:
        """Return every message (user and bot) in a chat with message_id > after."""
        return [m for m in self._log.get(chat_id_of(chat), []) if m.message_id > after]

    def new_file(
        self,
        data: bytes,
        file_name: str | None,
        mime_type: str | None,
        kind: str = "document",
    ) -> StoredFile:
        """Store bytes and return the file record with a fresh file_id.

        kind ("document", "photo", "voice", "sticker") decides the file_path folder and
        which send methods accept the file_id.
        """
        number = next(self._file_ids)
        unique = f"AgAD{number:06d}"
        stored = StoredFile(
            file_id=f"BQACAgIAAxk{number:06d}{secrets.token_hex(6)}",
            file_unique_id=unique,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            kind=kind,
        )
        self.files[stored.file_id] = stored
        return stored

    # ------------------------------------------------------------------ updates

    def emit_for_chat(self, chat: SimChat, kind: str, payload: JSON) -> None:
        """Emit an update from a user action, unless the bot does not see it.

        The bot sees nothing of a group it is not in, and in privacy mode only part of the
        messages (see ``privacy_mode``).
        """
        if chat.is_group and chat.id not in self.bot_groups:
            return
        hidden = (
            kind in ("message", "edited_message")
            and chat.is_group
            and not self.sees_all_messages(chat)
        )
        if hidden and not self._meant_for_bot(payload):
            self.stats.hidden_by_privacy += 1
            return
        self.emit(kind, payload)

    def sees_all_messages(self, chat: SimChat) -> bool:
        """Return whether the bot gets every message of a group (privacy off, or an admin)."""
        status = self.member_status(chat, self.bot_id)
        return not self.privacy_mode or status in ("administrator", "creator")

    def _meant_for_bot(self, message: JSON) -> bool:
        """A privacy-mode bot's share: commands, replies to it, service messages.

        core.telegram.org/bots/features#privacy-mode. A message in a forum topic replies to
        the topic's creation message, so a topic the bot created counts as a reply to it.
        """
        text = message.get("text") or ""
        if text.startswith("/"):
            return True
        replied = message.get("reply_to_message") or {}
        if (replied.get("from") or {}).get("id") == self.bot_id:
            return True
        return not any(key in message for key in ("text", *MEDIA_FIELDS, "caption"))

    def emit(self, kind: str, payload: JSON) -> JSON:
        """Create an update with the next update_id and queue or deliver it.

        While updates are held (``hold_updates``) it is kept in its kind's queue instead,
        and gets its update_id when released.
        """
        if self._held is not None:
            update = {"update_id": 0, kind: payload}
            self._held.setdefault(kind, deque()).append(update)
            return update
        self.last_update_id += 1
        update = {"update_id": self.last_update_id, kind: payload}
        self._enqueue(update)
        return update

    def hold_updates(self, seed: int | None = None) -> None:
        """Hold new updates in one queue per kind until ``release_updates``.

        Telegram delivers messages, button presses and member updates through separate
        queues on its side: a press can reach the bot before a message the same person sent
        earlier. The Bot API server numbers updates as they reach it, so update_ids do not
        tell the bot the person's order. seed makes ``release_updates`` repeatable.
        """
        self._held = {}
        self._reorder = random.Random(seed)

    def release_updates(self, kinds: Iterable[str] | None = None) -> list[JSON]:
        """Deliver the held updates interleaved across kinds; each kind keeps its order.

        kinds gives the order explicitly (one kind name per update, e.g. ["callback_query",
        "message"]); without it the kinds are interleaved at random (seeded). Updates get
        their update_ids now. Holding stops.
        """
        held, self._held = self._held or {}, None
        if kinds is None:
            pool = [kind for kind, queue in held.items() for _ in queue]
            self._reorder.shuffle(pool)
            kinds = pool
        released = []
        for kind in kinds:
            update = held[kind].popleft()
            self.last_update_id += 1
            update["update_id"] = self.last_update_id
            self._enqueue(update)
            released.append(update)
        if any(held.values()):
            raise ValueError("kinds did not name every held update")
        return released

    def _enqueue(self, update: JSON) -> None:
        self.stats.updates_created += 1
        if update_kind(update) not in self.allowed_updates:
            return
        if self.webhook is not None:
            self._webhook_delivery.enqueue(update)
        else:
            self._updates.append(update)
            self.wake_pollers()
        self.notify()

    def set_allowed_updates(self, allowed: Iterable[str] | None) -> None:
        """Apply an allowed_updates choice ([] means the default set) to pending updates."""
        chosen = frozenset(allowed or ())
        self.allowed_updates = chosen or DEFAULT_UPDATE_TYPES
        if any(update_kind(u) not in self.allowed_updates for u in self._updates):
            kept = [u for u in self._updates if update_kind(u) in self.allowed_updates]
            self._updates = deque(kept)

    def pending_updates(self) -> list[JSON]:
        """Return updates waiting for getUpdates (not yet confirmed)."""
        return list(self._updates)

    def drop_pending_updates(self) -> None:
        """Forget every queued update (getUpdates queue and webhook backlog)."""
        self._updates.clear()
        self._webhook_delivery.clear()

    def confirm_updates(self, offset: int) -> None:
        """Drop updates below offset; a negative offset keeps only the last -offset."""
        updates = self._updates
        if offset < 0:
            while len(updates) > -offset:
                updates.popleft()
            return
        if self._updates_unordered:
            self._updates = deque(u for u in updates if u["update_id"] >= offset)
            self._updates_unordered = False
            return
        while updates and updates[0]["update_id"] < offset:
            updates.popleft()

    async def wait_for_updates(self, seconds: float) -> None:
        """Wait until an update is queued, the time passes or the server stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._updates and not self._closing and self.webhook is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if self._update_event is None:
                self._update_event = asyncio.Event()
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def begin_poll(self) -> asyncio.Event:
        """Register a getUpdates call; raise 409 if another one is still running."""
        previous = self._poll_done
        if previous is not None and not previous.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(previous.wait(), POLL_HANDOVER_SECONDS)
            if not previous.is_set():
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        done = asyncio.Event()
        self._poll_done = done
        return done

    def requeue_for_polling(self, updates: Iterable[JSON]) -> None:
        """Put webhook backlog back into the getUpdates queue (after deleteWebhook)."""
        self._updates.extend(updates)
        self._updates_unordered = True
        self.wake_pollers()

    async def inject_raw_update(self, update: JSON) -> JSON:
        """Queue or deliver an arbitrary update; keeps its update_id when it has one."""
        update = dict(update)
        if "update_id" not in update:
            self.last_update_id += 1
            update = {"update_id": self.last_update_id, **update}
        else:
            update_id = int(update["update_id"])
            if update_id < self.last_update_id:
                self._updates_unordered = True
            self.last_update_id = max(self.last_update_id, update_id)
        self._enqueue(update)
        return update

    # ------------------------------------------------------------- users, chats

    def create_user(
        self,
        first_name: str = "Sanne",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "nl",
        *,
        started: bool = True,
    ) -> SimUser:
        """Create a user and their private chat.

        Args:
            first_name: the user's first name.
            last_name: optional last name.
            username: optional username (without @).
            language_code: IETF language tag Telegram reports for the user.
            started: whether the user has opened the bot already; if False the bot gets
                403 "bot can't initiate conversation with a user" until the user sends
                something.
        """
        user = SimUser(next(self._user_ids), first_name, last_name, username, language_code)
        self.users[user.id] = user
        self.chats[user.id] = SimChat(
            id=user.id,
            type="private",
            first_name=first_name,
            last_name=last_name,
            username=username,
        )
        if not started:
            self.not_started.add(user.id)
        return user

    def create_group(
        self, title: str = "Team LLO", supergroup: bool = True, is_forum: bool = False
    ) -> SimChat:
        """Create a group (or supergroup, the default) without the bot in it."""
        number = next(self._group_ids)
        chat_id = -(1_000_000_000_000 + number) if supergroup else -(4_000_000_000 + number)
        if is_forum and not supergroup:
            raise ValueError("only supergroups can be forums")
        chat = SimChat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            is_forum=is_forum,
        )
        self.chats[chat_id] = chat
        if is_forum:
            # Message 1 is the General topic's; created topics get ids from 2 on, so no
            # topic collides with General's thread id 1 (which sends may not name).
            self._message_ids[chat_id] = 1
            self.forum_topics[chat_id] = {}
        return chat

    def upgrade_group(self, group: SimChat, *, is_forum: bool = False) -> SimChat:
        """Upgrade a basic group to a supergroup and return the new chat.

        Telegram does so when an admin turns topics on, among other settings.

        Members, the bot's status and rights carry over. The old group gets a service
        message with migrate_to_chat_id, the new one one with migrate_from_chat_id; sends to
        the old id answer 400 with parameters.migrate_to_chat_id from then on.
        """
        if group.type != "group":
            raise ValueError("only basic groups are upgraded")
        new = self.create_group(group.title or "", supergroup=True, is_forum=is_forum)
        new.members_can_manage_topics = group.members_can_manage_topics
        self.members[new.id] = dict(self.members.get(group.id, {}))
        if group.id in self.bot_rights:
            self.bot_rights[new.id] = dict(self.bot_rights[group.id])
        in_group = group.id in self.bot_groups
        if in_group:
            self.bot_groups.add(new.id)
        self.migrated[group.id] = new.id
        sender = dict(GROUP_ANONYMOUS_BOT)
        old_note = self.service_message(group, sender, {"migrate_to_chat_id": new.id})
        new_note = self.service_message(new, sender, {"migrate_from_chat_id": group.id})
        if in_group:
            self.emit("message", old_note.raw)
            self.emit("message", new_note.raw)
        return new

    def create_channel(self, title: str = "Alumni nieuws", username: str | None = None) -> SimChat:
        """Create a channel chat (the bot is not in it); it can post in groups as sender_chat."""
        number = next(self._group_ids)
        chat = SimChat(
            id=-(1_000_000_000_000 + number), type="channel", title=title, username=username
        )
        self.chats[chat.id] = chat
        return chat

    # ------------------------------------------------------------ members

    def set_member_status(self, group: SimChat, user: SimUser, status: str) -> None:
        """Set a user's status in a group, as getChatMember will report it.

        status is one of creator, administrator, member, left, kicked. Users become members
        of a group on their own when they send there.
        """
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unsupported member status {status!r}")
        if not group.is_group:
            raise ValueError("members exist only in groups")
        self.members.setdefault(group.id, {})[user.id] = status

    def member_status(self, chat: ChatRef, user: ChatRef) -> str:
        """Return a user's status in a group ("left" when never seen there)."""
        return self.members.get(chat_id_of(chat), {}).get(chat_id_of(user), "left")

    def _join(self, group: SimChat, user_id: int) -> None:
        statuses = self.members.setdefault(group.id, {})
        if statuses.get(user_id) not in _PRESENT:
            statuses[user_id] = "member"

    # ------------------------------------------------------------ forum topics

    def topics(self, group: ChatRef) -> dict[int, SimTopic]:
        """Return the group's open and closed forum topics by message_thread_id."""
        return dict(self.forum_topics.get(chat_id_of(group), {}))

    def topic(self, group: ChatRef, thread_id: int) -> SimTopic | None:
        """Return one forum topic, or None when it does not exist (or was deleted)."""
        return self.forum_topics.get(chat_id_of(group), {}).get(thread_id)

    def open_topic(
        self,
        group: SimChat,
        name: str,
        sender: JSON,
        *,
        icon_color: int = TOPIC_COLORS[0],
        icon_custom_emoji_id: str | None = None,
        sender_chat: SimChat | None = None,
    ) -> tuple[SimTopic, SimMessage]:
        """Create a topic and its forum_topic_created service message (no checks)."""
        if not group.is_forum:
            raise ValueError(f"chat {group.id} is not a forum")
        created: JSON = {"name": name, "icon_color": icon_color}
        if icon_custom_emoji_id:
            created["icon_custom_emoji_id"] = icon_custom_emoji_id
        message_id = self._message_ids.get(group.id, 0) + 1
        topic = SimTopic(message_id, name, icon_color, icon_custom_emoji_id)
        self.forum_topics.setdefault(group.id, {})[message_id] = topic
        message = self.service_message(
            group, sender, {"forum_topic_created": created}, message_id, sender_chat=sender_chat
        )
        return topic, message

    def service_message(
        self,
        chat: SimChat,
        sender: JSON,
        content: JSON,
        thread_id: int | None = None,
        *,
        sender_chat: SimChat | None = None,
    ) -> SimMessage:
        """Store a service message (in a topic when thread_id is given) and return it."""
        message_id = self.next_message_id(chat.id)
        date = int(time.time())
        raw: JSON = {"message_id": message_id, "from": sender}
        if sender_chat is not None:
            raw["sender_chat"] = sender_chat.to_dict()
        raw.update(chat=chat.to_dict(), date=date)
        if thread_id is not None:
            raw["message_thread_id"] = thread_id
            raw["is_topic_message"] = True
            root = self.get_message(chat.id, thread_id)
            if root is not None and root.message_id != message_id:
                raw["reply_to_message"] = shallow(root.raw)
        raw.update(content)
        message = SimMessage(
            message_id=message_id,
            chat_id=chat.id,
            date=date,
            raw=raw,
            message_thread_id=thread_id,
            from_bot=sender.get("id") == self.bot_id,
            kind="service",
        )
        return self.store_message(message)

    async def create_topic(
        self,
        group: SimChat,
        name: str,
        by: SimUser | None = None,
        *,
        icon_color: int = TOPIC_COLORS[0],
    ) -> SimTopic:
        """Let an admin create a topic in the app; the bot gets the service message.

        Without by, an anonymous admin creates it (from GroupAnonymousBot).
        """
        sender = by.to_dict() if by is not None else dict(GROUP_ANONYMOUS_BOT)
        if by is not None:
            self._join(group, by.id)
        topic, message = self.open_topic(
            group, name, sender, icon_color=icon_color, sender_chat=None if by else group
        )
        self.emit_for_chat(group, "message", message.raw)
        return topic

    def delete_topic(
        self, group: SimChat, thread_id: int, *, answer: str = "message thread not found"
    ) -> None:
        """Delete a topic and all its messages, as an admin in the app (no update for bots).

        ``answer`` is what a later send into the topic gets (after "Bad Request: "). The Bot
        API server checks a topic it does not know with getForumTopic and answers "message
        thread not found" (telegram-bot-api Client.cpp, TdOnCheckForumTopicCallback); when
        its cache still knows the topic, the send reaches Telegram's servers, which answer
        TOPIC_DELETED or TOPIC_ID_INVALID (tdlib ForumTopicManager.cpp), passed on as is.
        """
        if answer not in TOPIC_GONE_ANSWERS:
            raise ValueError(f"answer must be one of {TOPIC_GONE_ANSWERS}")
        topics = self.forum_topics.get(group.id, {})
        if thread_id not in topics:
            raise KeyError(f"no topic {thread_id} in chat {group.id}")
        del topics[thread_id]
        self.deleted_topics.setdefault(group.id, {})[thread_id] = answer
        for message in list(self._log.get(group.id, ())):
            if message.message_thread_id == thread_id:
                self.remove_message(message)
        self.notify()

    def _chat_member_update(
        self, chat: SimChat, by: SimUser, old_status: str, new_status: str
    ) -> JSON:
        return self.emit(
            "my_chat_member",
            {
                "chat": chat.to_dict(),
                "from": by.to_dict(),
                "date": int(time.time()),
                "old_chat_member": chat_member(self.bot_user, old_status),
                "new_chat_member": chat_member(self.bot_user, new_status),
            },
        )

    async def add_bot_to_group(
        self, group: SimChat, by: SimUser, *, as_admin: bool = False, **rights: bool
    ) -> JSON:
        """Add the bot to a group: a my_chat_member update and a new_chat_members message.

        rights (e.g. ``can_manage_topics=False``) change an admin's otherwise full rights.
        """
        self.bot_groups.add(group.id)
        status = "administrator" if as_admin else "member"
        self.members.setdefault(group.id, {})[self.bot_id] = status
        self.bot_rights[group.id] = dict(rights)
        self._chat_member_update(group, by, "left", status)
        message = self._user_message(by, group, {"new_chat_members": [self.bot_user.to_dict()]})
        self.emit("message", message.raw)
        return message.raw

    def set_bot_status(self, group: SimChat, by: SimUser, status: str, **rights: bool) -> None:
        """Promote or demote the bot in a group, as an admin in the app would.

        The bot gets a my_chat_member update with its old and new status and rights.
        """
        if status not in ("administrator", "member"):
            raise ValueError("the bot can be made administrator or member")
        old = self.member_status(group, self.bot_id)
        old_member = chat_member(self.bot_user, old, self.bot_rights.get(group.id))
        self.members.setdefault(group.id, {})[self.bot_id] = status
        self.bot_rights[group.id] = dict(rights)
        self.emit(
            "my_chat_member",
            {
                "chat": group.to_dict(),
                "from": by.to_dict(),
                "date": int(time.time()),
                "old_chat_member": old_member,
                "new_chat_member": chat_member(self.bot_user, status, rights),
            },
        )

    def remove_bot_from_group(self, group: SimChat, by: SimUser) -> None:
        """Remove the bot from a group (a my_chat_member update with status "kicked")."""
        self.bot_groups.discard(group.id)
        self.members.setdefault(group.id, {})[self.bot_id] = "kicked"
        self._chat_member_update(group, by, "member", "kicked")

    def block(self, user: SimUser) -> None:
        """Let the user block the bot: sends fail with 403 and a my_chat_member update."""
        if user.id not in self.blocked:
            self.blocked.add(user.id)
            self._chat_member_update(self.chats[user.id], user, "member", "kicked")

    def unblock(self, user: SimUser) -> None:
        """Let the user unblock the bot again."""
        if user.id in self.blocked:
            self.blocked.discard(user.id)
            self._chat_member_update(self.chats[user.id], user, "kicked", "member")

    def deactivate(self, user: SimUser) -> None:
        """Delete the user's account: sends fail with 403 "user is deactivated"."""
        self.deactivated.add(user.id)

    # ------------------------------------------------------------- user actions

    def _chat_for(self, user: SimUser, chat: SimChat | None) -> SimChat:
        if chat is None:
            return self.chats[user.id]
        if chat.id not in self.chats:
            raise KeyError(f"unknown chat {chat.id}")
        return chat

    def _user_message(
        self,
        user: SimUser,
        chat: SimChat,
        content: JSON,
        *,
        kind: str = "text",
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> SimMessage:
        if user.id not in self.users:
            raise KeyError(f"unknown user {user.id}")
        if chat.type == "private":
            self.not_started.discard(user.id)
        elif chat.is_group:
            if self.member_status(chat, user.id) == "kicked":
                raise PermissionError(f"user {user.id} is banned from chat {chat.id}")
            self._join(chat, user.id)
        return self._incoming_message(
            user.to_dict(),
            chat,
            content,
            kind=kind,
            message_thread_id=message_thread_id,
            reply_to_message_id=reply_to_message_id,
        )

    def _incoming_message(
        self,
        sender: JSON,
        chat: SimChat,
        content: JSON,
        *,
        kind: str = "text",
        sender_chat: SimChat | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> SimMessage:
        """Store a message that a user (or an anonymous admin, or a channel) sent."""
        if (
            message_thread_id is not None
            and chat.is_forum
            and self.topic(chat, message_thread_id) is None
        ):
            raise KeyError(f"no topic {message_thread_id} in chat {chat.id}")
        message_id = self.next_message_id(chat.id)
        date = int(time.time())
        raw: JSON = {"message_id": message_id, "from": sender}
        if sender_chat is not None:
            raw["sender_chat"] = sender_chat.to_dict()
        raw.update(chat=chat.to_dict(), date=date)
        if message_thread_id is not None:
            raw["message_thread_id"] = message_thread_id
            if chat.is_forum:
                raw["is_topic_message"] = True
        replied = None
        if reply_to_message_id is not None:
            replied = self.get_message(chat.id, reply_to_message_id)
        if replied is None and message_thread_id is not None and chat.is_forum:
            # Telegram shows a topic message without an explicit reply as a reply to the
            # topic's forum_topic_created message.
            replied = self.get_message(chat.id, message_thread_id)
        if replied is not None:
            raw["reply_to_message"] = shallow(replied.raw)
        raw.update(content)
        message = SimMessage(
            message_id=message_id,
            chat_id=chat.id,
            date=date,
            raw=raw,
            text=content.get("text"),
            caption=content.get("caption"),
            entities=content.get("entities", []),
            message_thread_id=message_thread_id,
            from_bot=False,
            kind=kind,
        )
        return self.store_message(message)

    async def user_sends(
        self,
        user: SimUser,
        text: str,
        chat: SimChat | None = None,
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """Let a user send text (private chat unless chat is given); return the Message.

        In a forum, message_thread_id names the topic; the message then carries
        is_topic_message and replies to the topic's creation message unless
        reply_to_message_id says otherwise. KeyError for a missing (deleted) topic.
        """
        target = self._chat_for(user, chat)
        content = _text_content(text)
        message = self._user_message(
            user,
            target,
            content,
            message_thread_id=message_thread_id,
            reply_to_message_id=reply_to_message_id,
        )
        self.emit_for_chat(target, "message", message.raw)
        return message.raw

    async def user_sends_media(
        self,
        user: SimUser,
        kind: str = "sticker",
        caption: str | None = None,
        chat: SimChat | None = None,
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """Let a user send a sticker, photo, voice, GIF, document, location, contact or quiz.

        A quiz is what the bot cannot copy (its answer is hidden from the bot).

        The files are stored, so the bot can getFile and download them.
        """
        target = self._chat_for(user, chat)
        content = media_content(user, kind, self.new_file)
        if caption and kind in ("photo", "voice", "document", "animation"):
            content["caption"] = caption
        message = self._user_message(
            user,
            target,
            content,
            kind=kind,
            message_thread_id=message_thread_id,
            reply_to_message_id=reply_to_message_id,
        )
        self.emit_for_chat(target, "message", message.raw)
        return message.raw

    async def user_edits(
        self, user: SimUser, message_id: int, text: str, chat: SimChat | None = None
    ) -> JSON:
        """Let a user edit the text (or caption) of their own message; return the Message.

        The bot gets an ``edited_message`` update with the new version (Bot API docs,
        Update.edited_message: "new version of a message that is known to the bot and was
        edited"), carrying ``edit_date``. KeyError for a message that is not theirs.
        """
        target = self._chat_for(user, chat)
        message = self.get_message(target.id, message_id)
        if message is None or (message.raw.get("from") or {}).get("id") != user.id:
            raise KeyError(f"user {user.id} has no message {message_id} in chat {target.id}")
        # A new Message object: the update of the first version keeps what it said.
        raw = {k: v for k, v in message.raw.items() if k not in ("entities", "caption_entities")}
        if "text" in raw:
            content = _text_content(text)
            raw.update(content)
            message.text, message.entities = text, content.get("entities", [])
        else:
            raw["caption"] = text
            message.caption = text
        raw["edit_date"] = int(time.time())
        message.raw, message.edited = raw, True
        self.message_changed(message)
        self.emit_for_chat(target, "edited_message", raw)
        return raw

    async def anonymous_admin_sends(
        self,
        group: SimChat,
        text: str,
        message_thread_id: int | None = None,
        *,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """Let an anonymous admin post: from is GroupAnonymousBot, sender_chat the group."""
        if not group.is_group:
            raise ValueError("anonymous admins exist only in groups")
        message = self._incoming_message(
            dict(GROUP_ANONYMOUS_BOT),
            group,
            _text_content(text),
            sender_chat=group,
            message_thread_id=message_thread_id,
            reply_to_message_id=reply_to_message_id,
        )
        self.emit_for_chat(group, "message", message.raw)
        return message.raw

    async def channel_sends_in(
        self,
        group: SimChat,
        channel_title: str,
        text: str,
        message_thread_id: int | None = None,
        *,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """Let a user post in a group on behalf of a channel (sender_chat is the channel).

        The channel is created on first use and reused by title; from is Channel_Bot.
        """
        if not group.is_group:
            raise ValueError("channels post on their own behalf only in groups")
        channel = next(
            (c for c in self.chats.values() if c.type == "channel" and c.title == channel_title),
            None,
        ) or self.create_channel(channel_title)
        message = self._incoming_message(
            dict(CHANNEL_BOT),
            group,
            _text_content(text),
            sender_chat=channel,
            message_thread_id=message_thread_id,
            reply_to_message_id=reply_to_message_id,
        )
        self.emit_for_chat(group, "message", message.raw)
        return message.raw

    async def user_presses(
        self,
        user: SimUser,
        message_id: int,
        callback_data: str,
        chat: SimChat | None = None,
    ) -> str:
        """Let a user press an inline button; return the callback_query id.

        callback_data is sent as given, so tests can forge data no button carries.
        """
        target = self._chat_for(user, chat)
        message = self.get_message(target.id, message_id)
        query_id = str(next(self._callback_ids))
        self.callbacks[query_id] = {
            "chat_id": target.id,
            "answered": False,
            "pressed_at": time.monotonic(),
        }
        shown: JSON = (
            message.raw
            if message is not None
            else {"chat": target.to_dict(), "message_id": message_id, "date": 0}
        )
        self.emit_for_chat(
            target,
            "callback_query",
            {
                "id": query_id,
                "from": user.to_dict(),
                "message": shown,
                "chat_instance": str(abs(target.id) * 7 + 3),
                "data": callback_data,
            },
        )
        return query_id

    # ------------------------------------------------------------------ reading

    def bot_messages(self, chat: ChatRef, thread_id: int | None = None) -> list[SimMessage]:
        """Return the bot's messages in a chat, oldest first, edits applied.

        With thread_id, only those in that forum topic (or reply thread).
        """
        messages = self._bot_log.get(chat_id_of(chat), ())
        if thread_id is None:
            return list(messages)
        return [m for m in messages if m.message_thread_id == thread_id]

    def file_bytes(self, file_id: str) -> bytes:
        """Return the content of a stored file."""
        return self.files[file_id].data

    # The public API takes timeout= like asyncio.wait_for; hence the ASYNC109 waivers.
    async def wait_for(
        self,
        predicate: Callable[[BotApiSimulator], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until predicate(sim) is true, re-checking on every state change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            if self._state_event is None:
                self._state_event = asyncio.Event()
            event = self._state_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_bot_messages(
        self,
        chat: ChatRef,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SimMessage]:
        """Wait until the bot has sent at least count messages in a chat; return them all."""
        chat_id = chat_id_of(chat)
        try:
            await self.wait_for(lambda sim: len(sim._bot_log.get(chat_id, ())) >= count, timeout)
        except TimeoutError:
            got = self.bot_messages(chat_id)
            lines = "\n".join(f"  #{m.message_id}: {m.text or m.caption or m.kind!r}" for m in got)
            calls = [name for name, _ in self.requests[-10:]]
            raise TimeoutError(
                f"expected {count} bot message(s) in chat {chat_id} within {timeout}s, "
                f"got {len(got)}:\n{lines or '  (none)'}\nlast Bot API calls: {calls}"
            ) from None
        return self.bot_messages(chat_id)


def _text_content(text: str) -> JSON:
    """Return the Message fields for text a person typed (a leading /command is an entity)."""
    content: JSON = {"text": text}
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0] if text.strip() else text
        content["entities"] = [
            {
                "type": "bot_command",
                "offset": 0,
                "length": len(command.encode("utf-16-le")) // 2,
            }
        ]
    return content
