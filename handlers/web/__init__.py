"""The coordinator web console: aiohttp routes, security middlewares and Jinja2 pages."""

from handlers.web.app import console_app

__all__ = ["console_app"]
