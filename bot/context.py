"""The dependencies every service shares, built once by the application factory."""

from __future__ import annotations

from dataclasses import dataclass

from bot.catalogue import Catalogue
from bot.clock import Clock
from bot.messenger import Messenger
from bot.render import Renderer
from bot.settings import Settings
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
