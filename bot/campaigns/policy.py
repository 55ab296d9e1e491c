"""The campaigns' send-time policy: cancelled campaigns, withdrawn offers, cap and digest.

Registered with the dispatcher (``Dispatcher.screen``) by the composition root; the delivery
engine itself knows nothing of campaigns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.campaigns.digest import CAP_WINDOW, next_digest
from bot.core.deps import Deps
from bot.delivery.dispatcher import Verdict
from storage.models import CampaignStatus, OutboxMessage, OutboxStatus
from storage.repositories import Tx


class CampaignPolicy:
    """Drops pushes of cancelled campaigns and withdrawn offers; the cap holds the rest."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def screen(
        self, tx: Tx, rows: Sequence[OutboxMessage], now: datetime
    ) -> dict[int | None, Verdict]:
        """Drop pushes of cancelled campaigns and withdrawn offers; hold those over the cap.

        Held pushes move to the digest. The cap is ``PUSH_CAP_PER_WEEK`` pushes sent, maybe
        sent or being sent in the last 7 days.
        """
        pushes = [r for r in rows if r.campaign_id]
        if not pushes:
            return {}
        campaigns = await tx.offers.campaign_states(r.campaign_id for r in pushes if r.campaign_id)
        withdrawn = await tx.offers.withdrawn(offer for _, offer in campaigns.values())
        pushed = await tx.outbox.recent_pushes(
            {r.alumnus_id for r in pushes if r.alumnus_id},
            now - CAP_WINDOW,
            exclude=[r.id for r in rows if r.id is not None],
        )
        cap = self.deps.settings.push_cap_per_week
        verdicts: dict[int | None, Verdict] = {}
        held: list[OutboxMessage] = []
        for r in pushes:
            campaign = campaigns.get(r.campaign_id or 0)
            if campaign is None:
                continue
            if campaign[0] == CampaignStatus.CANCELLED.value:
                verdicts[r.id] = (OutboxStatus.CANCELLED, "campaign cancelled")
            elif campaign[1] in withdrawn:
                verdicts[r.id] = (OutboxStatus.CANCELLED, "offer withdrawn")
            elif r.alumnus_id is not None:
                if pushed.get(r.alumnus_id, 0) >= cap:
                    held.append(r)
                    verdicts[r.id] = (OutboxStatus.DIGEST, "over the weekly cap")
                else:
                    pushed[r.alumnus_id] = pushed.get(r.alumnus_id, 0) + 1
        if held:
            await self._hold(tx, held, campaigns, now)
        return verdicts

    async def _hold(
        self,
        tx: Tx,
        rows: Sequence[OutboxMessage],
        campaigns: dict[int, tuple[str, int]],
        now: datetime,
    ) -> None:
        """Put pushes over the cap in their people's digests (weekly, or monthly if chosen)."""
        frequency = await tx.offers.frequencies(r.alumnus_id for r in rows if r.alumnus_id)
        await tx.offers.hold_for_digest(
            [
                {
                    "alumnus_id": r.alumnus_id,
                    "campaign_id": r.campaign_id,
                    "offer_id": campaigns[r.campaign_id or 0][1],
                    "purpose": r.purpose or "",
                    "reason": "cap",
                    "due_at": next_digest(
                        now, frequency.get(r.alumnus_id or 0), self.deps.settings
                    ),
                    "created_at": now,
                }
                for r in rows
            ]
        )
