"""Campaigns: a survey sent to an audience between a start and an end time (the `campaigns` table).

The invitation and reminder rows a campaign produces are ordinary `follow_ups` rows with its `campaign_id`; the
unique constraint (campaign_id, citizen_id, kind) makes writing them idempotent, so a launch killed halfway resumes
without inviting anyone twice.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.storage import models as m
from bot.storage.items import (
    FOLLOW_UP_CANCELLED,
    FOLLOW_UP_DONE,
    FOLLOW_UP_HELD,
    FOLLOW_UP_PENDING,
    OUTCOME_SENT,
    RESPONSE_COMPLETED,
)
from bot.storage.repositories._base import Repository, columns_for, plain_json, table_of, to_item, to_items

DRAFT = "draft"
SCHEDULED = "scheduled"
RUNNING = "running"
CLOSED = "closed"
CANCELLED = "cancelled"
STATUSES = (DRAFT, SCHEDULED, RUNNING, CLOSED, CANCELLED)

INVITATION = "invitation"
REMINDER = "campaign_reminder"
"""The follow_ups kinds a campaign writes (handlers/outreach.py names the same strings)."""

ROW_PENDING = (FOLLOW_UP_PENDING, FOLLOW_UP_HELD)
"""follow_ups statuses of rows that have not reached the core yet: a closed or cancelled campaign cancels them."""

_FOLLOW_UPS = table_of(m.FollowUp)
_CAMPAIGNS = table_of(m.Campaign)


@dataclass(frozen=True)
class Campaign:
    """One campaign row. `audience` is {"channels": [...], "languages": [...], "fields": [...]} (empty = any)."""

    id: int
    name: str
    survey_key: str
    survey_version: int | None
    status: str
    audience: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    reminder_after_days: int | None
    reminded_at: datetime | None
    created_at: datetime
    launched_at: datetime | None
    closed_at: datetime | None
    created_by: str | None

    def filter(self, name: str) -> list[str]:
        """One audience filter ("channels", "languages", "fields"); empty = no filter."""
        return list(self.audience.get(name) or [])

    def invitation_payload(self) -> dict[str, Any]:
        """The payload of this campaign's invitation and reminder rows (the contract's FOLLOW_UP payload)."""
        return {
            "campaign_id": self.id,
            "survey_key": self.survey_key,
            "survey_version": self.survey_version,
            "ends_at": self.ends_at.isoformat(),  # the core sends nothing after the campaign's end
        }


_COLUMNS = columns_for(m.Campaign, Campaign)


class CampaignRepository(Repository):
    """Campaign rows and the invitation / reminder follow_ups rows that belong to them."""

    def create(
        self,
        *,
        name: str,
        survey_key: str,
        audience: Mapping[str, Sequence[str]],
        starts_at: datetime,
        ends_at: datetime,
        reminder_after_days: int | None,
        created_by: str | None,
        now: datetime,
    ) -> int:
        """A new campaign in status draft; returns its id."""
        statement = insert(_CAMPAIGNS).returning(_CAMPAIGNS.c.id)
        params = {
            "name": name,
            "survey_key": survey_key,
            "survey_version": None,
            "status": DRAFT,
            "audience": plain_json(audience),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "reminder_after_days": reminder_after_days,
            "created_at": now,
            "created_by": created_by,
        }
        return int(self.session.execute(statement, params).scalar_one())

    def get(self, campaign_id: int) -> Campaign | None:
        row = self.session.execute(select(*_COLUMNS).where(m.Campaign.id == campaign_id)).first()
        return None if row is None else to_item(Campaign, row)

    def all(self) -> list[Campaign]:
        """Every campaign, newest first."""
        return to_items(Campaign, self.session.execute(select(*_COLUMNS).order_by(m.Campaign.id.desc())).all())

    def with_status(self, *statuses: str) -> list[Campaign]:
        rows = self.session.execute(select(*_COLUMNS).where(m.Campaign.status.in_(statuses)).order_by(m.Campaign.id))
        return to_items(Campaign, rows.all())

    def using_survey(self, survey_key: str) -> list[Campaign]:
        """Scheduled or running campaigns of a survey (they keep it loadable)."""
        return [c for c in self.with_status(SCHEDULED, RUNNING) if c.survey_key == survey_key]

    def update(self, campaign_id: int, expected_status: str, **values: Any) -> bool:
        """Set `values` if the campaign still has `expected_status` (a concurrent change wins); True if it did."""
        statement = update(m.Campaign).where(m.Campaign.id == campaign_id, m.Campaign.status == expected_status)
        return self._rowcount(statement.values(**values)) == 1

    # --- the campaign's follow_ups rows -----------------------------------------------------------------------

    def add_rows(
        self,
        campaign: Campaign,
        kind: str,
        citizen_ids: Sequence[str],
        due_at: datetime,
        now: datetime,
    ) -> int:
        """One `kind` row per citizen (skipping citizens who already have one); returns how many were new."""
        if not citizen_ids:
            return 0
        payload = campaign.invitation_payload()
        rows = [
            {
                "citizen_id": citizen_id,
                "due_at": due_at,
                "kind": kind,
                "payload": payload,
                "status": FOLLOW_UP_PENDING,
                "attempts": 0,
                "created_at": now,
                "campaign_id": campaign.id,
                "unsolicited": True,
                "updated_at": now,
            }
            for citizen_id in citizen_ids
        ]
        # one executemany (SQLAlchemy batches it into multi-row INSERTs); RETURNING rather than rowcount, which
        # drivers need not report for it: only the rows actually inserted come back
        dialect_insert = postgresql.insert if self.is_postgres else sqlite.insert
        statement = dialect_insert(_FOLLOW_UPS).on_conflict_do_nothing().returning(_FOLLOW_UPS.c.id)
        return len(self.session.execute(statement, rows).all())

    def add_test_invitation(self, campaign: Campaign, citizen_id: str, now: datetime) -> int:
        """An invitation to one staff member, due now: not part of the campaign's figures (campaign_id NULL), and
        solicited (staff asked for it), so opt-ins, quiet hours and the daily cap do not hold it back."""
        statement = insert(_FOLLOW_UPS).returning(_FOLLOW_UPS.c.id)
        params = {
            "citizen_id": citizen_id,
            "due_at": now,
            "kind": INVITATION,
            "payload": {**campaign.invitation_payload(), "test": True},
            "status": FOLLOW_UP_PENDING,
            "attempts": 0,
            "created_at": now,
            "campaign_id": None,
            "unsolicited": False,
            "updated_at": now,
        }
        return int(self.session.execute(statement, params).scalar_one())

    def cancel_rows(self, campaign_id: int, outcome: str, now: datetime) -> int:
        """Cancel the campaign's rows that have not reached the core yet; returns how many."""
        statement = (
            update(m.FollowUp)
            .where(m.FollowUp.campaign_id == campaign_id, m.FollowUp.status.in_(ROW_PENDING))
            .values(status=FOLLOW_UP_CANCELLED, outcome=outcome, updated_at=now)
        )
        return self._rowcount(statement)

    def reminder_candidates(self, campaign_id: int, exclude: Collection[str] = ()) -> list[str]:
        """Citizens to remind: invited (the invitation was sent) or started via the campaign, and not completed;
        never those in `exclude` (staff, whose test invitation may have started a response of the campaign)."""
        sent = select(m.FollowUp.citizen_id).where(
            m.FollowUp.campaign_id == campaign_id,
            m.FollowUp.kind == INVITATION,
            m.FollowUp.status == FOLLOW_UP_DONE,
            m.FollowUp.outcome.is_(None) | (m.FollowUp.outcome == OUTCOME_SENT),
        )
        started = select(m.Response.citizen_id).where(m.Response.campaign_id == campaign_id)
        candidates = set(self.session.execute(sent).scalars()) | set(self.session.execute(started).scalars())
        campaign = self.get(campaign_id)
        if campaign is None or not candidates:
            return []
        completed = set(
            self.session.execute(
                select(m.Response.citizen_id)
                .join(m.Survey, m.Survey.id == m.Response.survey_id)
                .where(m.Survey.key == campaign.survey_key, m.Response.status == RESPONSE_COMPLETED)
            ).scalars()
        )
        return sorted(candidates - completed - set(exclude))
