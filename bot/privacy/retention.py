"""Retention: forget what no longer needs keeping (AVG minimisation)."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.core.deps import Deps

logger = logging.getLogger(__name__)

# An offer that went out in a digest is kept this long after it was due: its buttons in the
# digest (interest, opt-out) keep working and the campaign's stats count it. Then it goes.
DIGEST_ITEM_RETENTION = timedelta(days=180)


async def purge_expired(deps: Deps) -> int:
    """Delete what is past its retention; return how many rows.

    Processed update ids after ``INBOUND_UPDATE_RETENTION_DAYS``; digest items already
    sent (or dropped) in a digest after ``DIGEST_ITEM_RETENTION``. Items still waiting for a
    digest are kept.
    """
    now = deps.clock.now()
    cutoff = now - timedelta(days=deps.settings.inbound_update_retention_days)
    async with deps.storage.transaction() as tx:
        purged = await tx.updates.purge(cutoff)
        digested = await tx.offers.purge_digested(now - DIGEST_ITEM_RETENTION)
    if purged:
        logger.info("retention: purged %d processed update ids", purged)
    if digested:
        logger.info("retention: purged %d sent digest items", digested)
    return purged + digested
