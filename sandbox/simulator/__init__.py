"""A local Telegram Bot API server for tests, benchmarks and the offline sandbox.

Example:
    async with BotApiSimulator(token="123456:TEST-abc") as sim:
        app = ApplicationBuilder().token(sim.token).base_url(sim.api_base_url)...
        user = sim.create_user("Sanne")
        await sim.user_sends(user, "/start")
        replies = await sim.wait_for_bot_messages(user, 1)
"""

from sandbox.simulator.core import BotApiSimulator
from sandbox.simulator.methods import METHODS, ApiMethod, api_method
from sandbox.simulator.models import (
    ApiError,
    Fault,
    FaultSet,
    SimChat,
    SimMessage,
    SimTopic,
    SimUser,
    Stats,
    StoredFile,
)
from sandbox.simulator.tghtml import HtmlParseError, ParsedText, parse_html
from sandbox.simulator.updates import message_view

__all__ = [
    "METHODS",
    "ApiError",
    "ApiMethod",
    "BotApiSimulator",
    "Fault",
    "FaultSet",
    "HtmlParseError",
    "ParsedText",
    "SimChat",
    "SimMessage",
    "SimTopic",
    "SimUser",
    "Stats",
    "StoredFile",
    "api_method",
    "message_view",
    "parse_html",
]
