"""Offline tooling: the local Telegram Bot API simulator and its web chat page."""
