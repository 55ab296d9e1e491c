"""Retention: forget what no longer needs keeping (AVG minimisation)."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.context import Deps

logger = logging.getLogger(__name__)


async def purge_expired(deps: Deps) -> int:
    """Delete processed update ids older than the configured retention; return how many."""
    cutoff = deps.clock.now() - timedelta(days=deps.settings.inbound_update_retention_days)
    async with deps.storage.transaction() as tx:
        purged = await tx.updates.purge(cutoff)
    if purged:
        logger.info("retention: purged %d processed update ids", purged)
    return purged
