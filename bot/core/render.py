"""Render user-visible words from ``content/<locale>/<feature>.j2``.

Name ``"steps.ask_name"`` is block ``ask_name`` of ``content/<locale>/steps.j2``.
Message text is Telegram HTML, so autoescape is on and every user value is escaped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"


def pick_locale(language_code: str | None) -> str:
    """Choose nl or en from a Telegram ``language_code`` (Dutch unless clearly English)."""
    if language_code and language_code.lower().startswith("en"):
        return "en"
    return DEFAULT_LOCALE


class Renderer:
    """Turns template names plus data into text in a locale."""

    def __init__(self, content_dir: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(content_dir),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates are read once per process; checking their files on every render
            # cost more than the rendering. Restart the bot after editing content/.
            auto_reload=False,
        )
        self._labels: dict[tuple[str, str], str] = {}

    def text(self, name: str, locale: str, **ctx: Any) -> str:
        """Render a message block as Telegram HTML."""
        feature, _, block = name.partition(".")
        if locale not in LOCALES:
            locale = DEFAULT_LOCALE
        template = self.env.get_template(f"{locale}/{feature}.j2")
        try:
            render_block = template.blocks[block]
        except KeyError:
            raise KeyError(f"no block {block!r} in {locale}/{feature}.j2") from None
        context = template.new_context(ctx)
        return "".join(render_block(context)).strip()

    def label(self, name: str, locale: str, **ctx: Any) -> str:
        """Render a plain-text block (button labels, file names): no HTML escaping."""
        if ctx:
            return Markup(self.text(name, locale, **ctx)).unescape()
        # A label without data never changes: keyboards render dozens per message.
        key = (name, locale)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = Markup(self.text(name, locale)).unescape()
        return label

    def version(self, name: str, locale: str, **ctx: Any) -> str:
        """Return a short hash of a rendered text, recorded as the version a person saw."""
        digest = hashlib.sha256(f"{locale}\n{self.text(name, locale, **ctx)}".encode())
        return digest.hexdigest()[:12]

    def blocks(self, feature: str, locale: str) -> list[str]:
        """List the block names of one feature file (used by the template tests)."""
        return list(self.env.get_template(f"{locale}/{feature}.j2").blocks)
