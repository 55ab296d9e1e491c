"""The dependencies every service shares, built once by the application factory."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.catalogue import Catalogue
from bot.core.clock import Clock
from bot.core.messenger import Messenger
from bot.core.render import Renderer
from bot.core.settings import Settings
from storage.repositories import Storage


@dataclass
class Deps:
    """Settings, storage, words, catalogues, time and the way out."""

    settings: Settings
    storage: Storage
    renderer: Renderer
    catalogue: Catalogue
    clock: Clock
    messenger: Messenger
