"""The staff audit log: who did what to which campaign or idea, when, in which role and from where.

Rows hold employees' data (their channel accounts or OS user names), so they are purged after the configured
retention (`STADTDIALOG_AUDIT_RETENTION_DAYS`); they never hold citizens' texts (see `bot.staffdesk.audit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from bot.storage import models as m
from bot.storage.items import AuditEntry
from bot.storage.repositories._base import Repository, columns_for, plain_json, table_of, to_items

_COLUMNS = columns_for(m.StaffAudit, AuditEntry)
_INSERT = insert(table_of(m.StaffAudit)).returning(table_of(m.StaffAudit).c.id)


class AuditRepository(Repository):
    def add(
        self,
        *,
        at: datetime,
        actor: str,
        role: str,
        channel: str,
        action: str,
        target: str | None,
        details: Mapping[str, Any] | None,
        outcome: str,
    ) -> int:
        """Append one entry; returns its id. Column lengths are the caller's to respect (`bot.staffdesk.audit`)."""
        params = {
            "at": at,
            "actor": actor,
            "role": role,
            "channel": channel,
            "action": action,
            "target": target,
            "details": None if details is None else plain_json(details),
            "outcome": outcome,
        }
        return int(self.session.execute(_INSERT, params).scalar_one())

    def between(self, since: datetime | None = None, until: datetime | None = None) -> list[AuditEntry]:
        """Entries with `since` <= at < `until` (either open), oldest first."""
        query = select(*_COLUMNS).order_by(m.StaffAudit.at, m.StaffAudit.id)
        if since is not None:
            query = query.where(m.StaffAudit.at >= since)
        if until is not None:
            query = query.where(m.StaffAudit.at < until)
        return to_items(AuditEntry, self.session.execute(query).all())

    def since(self, moment: datetime) -> list[AuditEntry]:
        """Entries from `moment` on, oldest first."""
        return self.between(since=moment)

    def purge(self, before: datetime) -> int:
        """Delete the entries older than `before` (the retention purge); returns how many."""
        return self._rowcount(delete(m.StaffAudit).where(m.StaffAudit.at < before))
