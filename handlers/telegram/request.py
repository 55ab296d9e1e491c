"""PTB's request interface on aiohttp's client, which costs a bot far less CPU than httpx.

``telegram.request.BaseRequest`` is PTB's documented place for another HTTP library (the
python-telegram-bot/ptbcontrib ``aiohttp_request`` module does the same). aiohttp is already
in the stack for the webhook and the console. Under load, httpx spent about half of the bot's
time per Bot API call (docs/benchmarks.md).

Errors keep PTB's shape (``TimedOut``, ``NetworkError``) with the aiohttp error as the cause,
so :func:`handlers.telegram.messenger.classify` can tell "never left this machine" from "may
have been delivered".
"""

from __future__ import annotations

import logging

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

logger = logging.getLogger(__name__)

# Raised before the request was written: nothing can have reached Telegram.
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)


class AiohttpRequest(BaseRequest):
    """One pooled aiohttp ``ClientSession`` per request object (PTB keeps two per bot)."""

    __slots__ = ("_media_timeout", "_pool_size", "_session", "_timeout")

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 30.0,
        media_timeout: float = 30.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._timeout = aiohttp.ClientTimeout(
            connect=pool_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._media_timeout = media_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds it to getUpdates' long-poll timeout)."""
        return self._timeout.sock_read

    async def initialize(self) -> None:
        """Open the session inside the running loop (aiohttp binds it to the loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=self._timeout,
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one Bot API call; return the HTTP status and the raw body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest used before initialize()")
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None and request_data.multipart_data:
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mime) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data = form
        elif request_data is not None:
            data = request_data.json_parameters
        timeout = aiohttp.ClientTimeout(
            total=self._media_timeout if request_data and request_data.contains_files else None,
            connect=self._pick(pool_timeout, self._timeout.connect),
            sock_connect=self._pick(connect_timeout, self._timeout.sock_connect),
            sock_read=self._pick(read_timeout, self._timeout.sock_read),
        )
        try:
            async with self._session.request(
                method, url, data=data, timeout=timeout, headers={"User-Agent": self.USER_AGENT}
            ) as response:
                body = await response.read()
        except TimeoutError as error:
            raise TimedOut(f"aiohttp {type(error).__name__}") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        if logger.isEnabledFor(logging.DEBUG):
            # The URL holds the token: the redacting log filter (bot.core.logs) masks it.
            logger.debug("HTTP %s %s -> %d", method, url, response.status)
        return response.status, body

    @staticmethod
    def _pick(given: ODVInput[float], default: float | None) -> float | None:
        return default if isinstance(given, DefaultValue) else given
