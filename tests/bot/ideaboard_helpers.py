"""Building blocks of the ideaboard tests: citizens, published ideas with real e5 embeddings, the searches' results."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update

from bot.channels.base import EventSink, SentMessage
from bot.ideaboard.search import encode_vector
from bot.identity import pseudonym
from bot.storage import models as m
from bot.storage.db import Database, UnitOfWork
from handlers.events import PUBLICATION_APPROVED, CitizenState, Inbound, InboundKind, Outbound, SimilarResult
from nlp.embed import Embedder
from nlp.similar import default_restorer, embedding_text

SECRET = "test-secret-0123456789"  # the runtime fixtures' pseudonym secret
CHANNEL = "test"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
_clock = itertools.count(1)


@dataclass
class RecordingChannel:
    """An in-process channel that records what the runtime sends."""

    name: str = CHANNEL
    sent: list[tuple[str, Outbound]] = field(default_factory=list)

    async def start(self, sink: EventSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, message: Outbound, key: str = "") -> SentMessage:
        self.sent.append((chat_id, message))
        return SentMessage((str(len(self.sent)),))


def citizen_of(user: str) -> str:
    return pseudonym(SECRET.encode(), CHANNEL, user)


def add_citizen(uow: UnitOfWork, user: str, lang: str = "de") -> str:
    """A consented citizen reachable on the test channel (user id = chat id); their pseudonym."""
    citizen = citizen_of(user)
    if not uow.citizens.exists(citizen):
        uow.citizens.save_state(
            citizen, CitizenState(language=lang, language_chosen=True, consent_version="1", consent_at=NOW,
                                  flow="idle", data={}), NOW,
        )  # fmt: skip
        uow.contacts.upsert(citizen, CHANNEL, user, user)
    return citizen


class Ideas:
    """Ideas filed with the real embedder's vectors (as `SaveIdea` stores them) and published as H-PUBLISH does."""

    def __init__(self, database: Database, embedder: Embedder) -> None:
        self.db = database
        self.embedder = embedder
        self.restorer = default_restorer()

    def file(self, user: str, text: str, field: str | None = "mobilitaet", *, embed: bool = True) -> str:
        idea_id = uuid.uuid4().hex
        vector = self.embedder.embed_one(embedding_text(text, self.restorer)) if embed else None
        with self.db.unit_of_work() as uow:
            citizen = add_citizen(uow, user)
            stored = None if vector is None else vector.astype("<f4").tobytes()
            uow.ideas.add(idea_id, citizen, text, field, NOW, embedding=stored, embedding_model=self.embedder.key)
        return idea_id

    def set(self, idea_id: str, **values: object) -> None:
        """Change publication columns; like every writer of them it sets `publication_at` (the index follows it)."""
        # whole seconds: two changes may share a timestamp, as with a coarse clock
        at = values.pop("publication_at") if "publication_at" in values else datetime.now(UTC).replace(microsecond=0)
        with self.db.unit_of_work() as uow:
            uow.session.execute(update(m.Idea).where(m.Idea.id == idea_id).values(publication_at=at, **values))

    def publish(self, idea_id: str, public_text: str | None = None) -> None:
        with self.db.unit_of_work() as uow:
            text = uow.session.execute(select(m.Idea.text).where(m.Idea.id == idea_id)).scalar_one()
        self.set(idea_id, publication=PUBLICATION_APPROVED, public_text=public_text or text)

    def publish_new(self, user: str, text: str, field: str | None = "mobilitaet") -> str:
        idea_id = self.file(user, text, field)
        self.publish(idea_id)
        return idea_id


def similar_event(results: list[Inbound]) -> SimilarResult:
    found = [event for event in results if event.kind is InboundKind.SIMILAR]
    assert len(found) == 1, f"expected one SIMILAR event, got {len(found)}"
    result = SimilarResult.from_json(found[0].args)
    assert result is not None
    return result


def encoded(embedder: Embedder, text: str) -> str:
    return encode_vector(embedder.embed_one(embedding_text(text, default_restorer())))
