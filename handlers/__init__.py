"""Entry points: Telegram update handlers, aiohttp routes and scheduled jobs."""
