"""Ideas and free-text answers with made-up embeddings in known groups, for the theme refresh and the report.

Vectors: a direction every text shares (as e5 puts all German texts close together), one direction per group,
a little noise — the refresh must find exactly the groups. Texts name the group's proposal, so keywords exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import update

from bot.storage import models as m
from bot.storage.db import Database, UnitOfWork
from handlers.events import CitizenState
from surveys.schema import Survey

DIM = 384
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
GROUPS = {
    "baenke": ("mobilitaet", "Mehr Sitzbänke an der Haltestelle {i} aufstellen"),
    "toiletten": ("mobilitaet", "Öffentliche Toiletten am Bahnhof {i} öffnen"),
    "baeume": ("umwelt", "Mehr Bäume pflanzen in der Straße {i}"),
    "muell": ("umwelt", "Die Mülleimer im Park {i} öfter leeren"),
}
PRIVATE_WORD = "geheim"  # starts a word of its own in every idea's private text and every answer: never in the report


def private_word(tag: str) -> str:
    """A word only this text uses ("geheim" + letters from a hash of `tag`)."""
    digest = hashlib.sha256(tag.encode()).digest()
    return PRIVATE_WORD + "".join(chr(97 + byte % 26) for byte in digest[:6])
UNPUBLISHED = "Unveröffentlichte Idee: Bänke vor meinem Haus Nummer 7"

SURVEY: dict[str, Any] = {
    "id": "wuensche",
    "title": {"de": "Wünsche", "en": "Wishes"},
    "questions": [
        {"id": "wunsch", "type": "free_text", "text": {"de": "Was wünschen Sie sich?", "en": "Your wish?"}},
        {"id": "modus", "type": "single_choice", "text": {"de": "Wie fahren Sie?", "en": "How do you travel?"},
         "options": [{"id": "bus", "text": {"de": "Bus", "en": "Bus"}},
                     {"id": "rad", "text": {"de": "Rad", "en": "Bike"}}]},
    ],
}


@dataclass(frozen=True)
class Vectors:
    common: np.ndarray
    groups: dict[str, np.ndarray]
    rng: np.random.Generator

    @classmethod
    def make(cls, seed: int = 7) -> Vectors:
        rng = np.random.default_rng(seed)

        def unit() -> np.ndarray:
            v = rng.normal(size=DIM)
            return v / np.linalg.norm(v)

        return cls(unit(), {name: unit() for name in GROUPS}, rng)

    def vector(self, group: str) -> bytes:
        v = 2.0 * self.common + self.groups[group] + self.rng.normal(0, 0.25 / np.sqrt(DIM) * 4, DIM)
        v = v / np.linalg.norm(v)
        return np.asarray(v, dtype="<f4").tobytes()


def citizen(uow: UnitOfWork, citizen_id: str) -> None:
    uow.citizens.save_state(citizen_id, CitizenState(language="de", consent_version="1", consent_at=START), START)
    uow.contacts.upsert(citizen_id, "telegram", f"user-{citizen_id}", f"chat-{citizen_id}")


def add_idea(uow: UnitOfWork, idea_id: str, citizen_id: str, group: str, number: int, vectors: Vectors, *,
             approved: bool, day: int = 0) -> None:
    field, text = GROUPS[group]
    private = text.format(i=number) + f" {private_word(idea_id)}"
    uow.ideas.add(idea_id, citizen_id, private, field, START + timedelta(days=day, minutes=number), fields=(field,))
    values: dict[str, Any] = {"embedding": vectors.vector(group), "embedding_model": "test"}
    if approved:
        values.update(publication="approved", public_text=text.format(i=number), publication_at=START)
    uow.session.execute(update(m.Idea).where(m.Idea.id == idea_id).values(**values))


def fill(database: Database, vectors: Vectors, *, per_group: int = 6, prefix: str = "a", day: int = 0) -> None:
    """`per_group` ideas per group (every second approved) from citizens `{prefix}_…`."""
    with database.unit_of_work() as uow:
        for name in GROUPS:
            for i in range(per_group):
                who = f"{prefix}_{name}_{i}"
                citizen(uow, who)
                add_idea(uow, f"{prefix}-{name}-{i}", who, name, i, vectors, approved=i % 2 == 0, day=day + i)


def import_survey(uow: UnitOfWork) -> None:
    definition = Survey.model_validate(SURVEY).model_dump(mode="json")
    uow.surveys.import_survey("wuensche", definition, "hash-wuensche", "Wünsche", "wuensche.yaml", START)


def add_answers(database: Database, vectors: Vectors, group: str, count: int, prefix: str = "r") -> list[int]:
    """`count` responses whose free-text answer proposes `group`'s thing, with a stored embedding; answer ids."""
    field, text = GROUPS[group]
    ids: list[int] = []
    with database.unit_of_work() as uow:
        for i in range(count):
            who = f"{prefix}_{group}_{i}"
            citizen(uow, who)
            rid = f"{prefix}-{group}-{i}"
            moment = START + timedelta(days=i)
            uow.responses.start(rid, who, "wuensche", 1, moment)
            uow.responses.save_answer(rid, "wunsch", text.format(i=i) + f" {private_word(rid)}", moment, None)
            uow.responses.save_answer(rid, "modus", "bus", moment, None)
            answer_id = uow.session.query(m.Answer.id).filter_by(response_id=rid, question_id="wunsch").scalar()
            uow.session.execute(update(m.Answer).where(m.Answer.id == answer_id).values(field=field))
            uow.session.add(m.AnswerEmbedding(answer_id=answer_id, vector=vectors.vector(group), model="test",
                                              source_hash="x", created_at=moment))
            ids.append(int(answer_id))
    return ids
