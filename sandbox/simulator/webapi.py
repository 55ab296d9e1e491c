"""The user side over HTTP: a JSON API under /sim/api/ and the web chat page at /."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.simulator.methods import description_for
from sandbox.simulator.models import SimChat, SimUser
from sandbox.simulator.state import STATIC_DIR

if TYPE_CHECKING:
    from sandbox.simulator.state import SimState

JSON = dict[str, Any]
HEARTBEAT_SECONDS = 15.0
MEDIA_KINDS = ("sticker", "photo", "voice", "document", "location", "contact")


def add_user_routes(app: web.Application, sim: SimState) -> None:
    """Add the user API, the event stream and the static web chat to app."""
    api = UserApi(sim)
    app.router.add_get("/", api.index)
    app.router.add_post("/sim/api/users", api.create_user)
    app.router.add_get("/sim/api/users/{id}", api.get_user)
    app.router.add_get("/sim/api/users/{id}/bot", api.bot_profile)
    app.router.add_post("/sim/api/users/{id}/messages", api.send_text)
    app.router.add_post("/sim/api/users/{id}/media", api.send_media)
    app.router.add_post("/sim/api/users/{id}/press", api.press)
    app.router.add_get("/sim/api/chats/{id}/messages", api.messages)
    app.router.add_get("/sim/api/chats/{id}/events", api.events)
    app.router.add_get("/sim/api/files/{file_id}", api.file)
    app.router.add_static("/static/", _static_dir(), show_index=False)


def _static_dir() -> str:
    return str(STATIC_DIR)


def _thread(body: JSON) -> int | None:
    value = body.get("message_thread_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise web.HTTPBadRequest(text="message_thread_id must be an integer")
    return value


def _user_json(user: SimUser) -> JSON:
    return {**user.to_dict(), "chat_id": user.id}


class UserApi:
    """Route handlers for the user-side API."""

    def __init__(self, sim: SimState) -> None:
        self.sim = sim

    async def index(self, request: web.Request) -> web.StreamResponse:
        """Serve the web chat page."""
        return web.FileResponse(
            STATIC_DIR / "index.html",
            headers={
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; connect-src 'self'; base-uri 'none'; "
                    "form-action 'self'; frame-ancestors 'none'"
                ),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def _body(self, request: web.Request) -> JSON:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="expected a JSON object") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return body

    def _user(self, request: web.Request) -> SimUser:
        try:
            user = self.sim.users.get(int(request.match_info["id"]))
        except ValueError:
            user = None
        if user is None:
            raise web.HTTPNotFound(text="unknown user")
        return user

    def _chat(self, request: web.Request) -> SimChat:
        try:
            chat = self.sim.chats.get(int(request.match_info["id"]))
        except ValueError:
            chat = None
        if chat is None:
            raise web.HTTPNotFound(text="unknown chat")
        return chat

    def _target(self, body: JSON) -> SimChat | None:
        chat_id = body.get("chat_id")
        if chat_id is None:
            return None
        chat = self.sim.chats.get(int(chat_id))
        if chat is None:
            raise web.HTTPNotFound(text="unknown chat")
        return chat

    async def create_user(self, request: web.Request) -> web.Response:
        """Create a user: {first_name, language_code, last_name?, username?}."""
        body = await self._body(request)
        first_name = str(body.get("first_name") or "").strip()[:64]
        if not first_name:
            raise web.HTTPBadRequest(text="first_name is required")
        user = self.sim.create_user(
            first_name=first_name,
            last_name=(str(body["last_name"])[:64] if body.get("last_name") else None),
            username=(str(body["username"])[:32] if body.get("username") else None),
            language_code=str(body.get("language_code") or "nl")[:8],
        )
        return web.json_response(_user_json(user), status=201)

    async def get_user(self, request: web.Request) -> web.Response:
        """Return a user."""
        return web.json_response(_user_json(self._user(request)))

    async def bot_profile(self, request: web.Request) -> web.Response:
        """What the user's app shows of the bot before a chat starts, in their language."""
        user = self._user(request)
        language = user.language_code
        return web.json_response(
            {
                "name": self.sim.bot_user.first_name,
                "description": description_for(self.sim, "description", language),
                "short_description": description_for(self.sim, "short_description", language),
            }
        )

    async def send_text(self, request: web.Request) -> web.Response:
        """Let the user send {text, chat_id?, message_thread_id?}."""
        user = self._user(request)
        body = await self._body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 4096:
            raise web.HTTPBadRequest(text="text must be 1-4096 characters")
        try:
            message = await self.sim.user_sends(
                user, text, chat=self._target(body), message_thread_id=_thread(body)
            )
        except KeyError:
            raise web.HTTPNotFound(text="unknown topic") from None
        except PermissionError:
            raise web.HTTPForbidden(text="user is banned from this chat") from None
        return web.json_response(message, status=201)

    async def send_media(self, request: web.Request) -> web.Response:
        """Let the user send {kind, caption?, chat_id?, message_thread_id?}."""
        user = self._user(request)
        body = await self._body(request)
        kind = body.get("kind")
        if kind not in MEDIA_KINDS:
            raise web.HTTPBadRequest(text=f"kind must be one of {', '.join(MEDIA_KINDS)}")
        caption = body.get("caption") if isinstance(body.get("caption"), str) else None
        try:
            message = await self.sim.user_sends_media(
                user,
                kind=str(kind),
                caption=caption,
                chat=self._target(body),
                message_thread_id=_thread(body),
            )
        except KeyError:
            raise web.HTTPNotFound(text="unknown topic") from None
        except PermissionError:
            raise web.HTTPForbidden(text="user is banned from this chat") from None
        return web.json_response(message, status=201)

    async def press(self, request: web.Request) -> web.Response:
        """Let the user press a button: {message_id, callback_data, chat_id?}."""
        user = self._user(request)
        body = await self._body(request)
        try:
            message_id = int(body["message_id"])
        except (KeyError, TypeError, ValueError):
            raise web.HTTPBadRequest(text="message_id is required") from None
        data = body.get("callback_data")
        if not isinstance(data, str):
            raise web.HTTPBadRequest(text="callback_data is required")
        query_id = await self.sim.user_presses(user, message_id, data, chat=self._target(body))
        return web.json_response({"callback_query_id": query_id}, status=201)

    async def messages(self, request: web.Request) -> web.Response:
        """Return the chat's messages (both sides) with message_id > after."""
        from sandbox.simulator.updates import message_view

        chat = self._chat(request)
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise web.HTTPBadRequest(text="after must be an integer") from None
        views = [message_view(m) for m in self.sim.chat_messages(chat.id, after)]
        return web.json_response({"chat": chat.to_dict(), "messages": views})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Stream the chat as Server-Sent Events: the history first, then every change.

        Events: "message" (new or edited; the client replaces by message_id), "delete",
        "answer" (a callback query answer, for a toast) and "action" (e.g. typing).
        """
        from sandbox.simulator.updates import message_view

        chat = self._chat(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        # Subscribe before snapshotting so nothing falls between history and live events.
        queue = self.sim.subscribe(chat.id)
        try:
            history = [message_view(m) for m in self.sim.chat_messages(chat.id)]
            for view in history:
                await _send_event(response, "message", view)
            await _send_event(response, "ready", {"count": len(history)})
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                await _send_event(response, str(event["event"]), event["data"])
        except ConnectionError:
            pass
        finally:
            self.sim.unsubscribe(chat.id, queue)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    async def file(self, request: web.Request) -> web.Response:
        """Download a stored file."""
        stored = self.sim.files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound(text="unknown file")
        name = (stored.file_name or f"{stored.file_unique_id}.bin").replace('"', "")
        return web.Response(
            body=stored.data,
            content_type=stored.mime_type or "application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
            },
        )


async def _send_event(response: web.StreamResponse, name: str, data: Any) -> None:
    payload = json.dumps(data, ensure_ascii=False)
    await response.write(f"event: {name}\ndata: {payload}\n\n".encode())
