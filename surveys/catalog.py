"""The surveys the dialogue core can offer, as pure data (built by the runtime from the surveys table)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from surveys.schema import Survey


@dataclass(frozen=True)
class SurveyVersion:
    """One imported version of a survey file. `key` is the survey's id; `version` counts from 1."""

    key: str
    version: int
    survey: Survey


class SurveyCatalog:
    """Active surveys (offered to citizens) plus older versions still being finished."""

    def __init__(
        self,
        versions: Iterable[SurveyVersion],
        active: Iterable[tuple[str, int]] | None = None,
        closed: Mapping[str, datetime] | None = None,
    ) -> None:
        """`active` lists the (key, version) pairs offered; None offers the latest version of every survey.
        `closed` maps the keys of surveys staff closed to when they closed them: those are not offered, but every
        version stays available to `get` (citizens finishing within the grace period, pinned campaigns)."""
        self._closed = dict(closed or {})
        self._versions = {(v.key, v.version): v for v in versions}
        active_keys = list(active) if active is not None else []
        if active is None:
            latest: dict[str, int] = {}
            for key, version in self._versions:
                latest[key] = max(version, latest.get(key, 0))
            active_keys = sorted(latest.items())
        self._active = [self._versions[k] for k in active_keys if k in self._versions and k[0] not in self._closed]

    def active(self) -> Sequence[SurveyVersion]:
        """Surveys a citizen can start now, in display order."""
        return list(self._active)

    def closed_at(self, key: str) -> datetime | None:
        """When staff closed survey `key`; None while it is open."""
        return self._closed.get(key)

    def get(self, key: str, version: int) -> SurveyVersion | None:
        """A specific version (also an inactive one a citizen is still finishing)."""
        return self._versions.get((key, version))

    def latest(self, key: str) -> SurveyVersion | None:
        """The active version of survey `key`, if it is active."""
        return next((v for v in self._active if v.key == key), None)
