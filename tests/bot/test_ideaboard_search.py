"""The similar-idea search worker through the runtime, with the real e5 embedder and a real database (SQLite and
PostgreSQL): a FindSimilar row becomes a SIMILAR event in the citizen's chat, it survives a restart, an embedding
failure still answers, and the index follows publication changes made by another worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from bot.app import field_infos
from bot.config import Config
from bot.ideaboard import store
from bot.ideaboard.search import SimilarSearch, decode_vector
from bot.runtime import Runtime
from bot.storage import models as m
from bot.storage.db import Database
from bot.survey_sync import import_surveys, load_catalog
from handlers.events import (
    IDEA_SUPPORT,
    PUBLICATION_PENDING,
    PUBLICATION_WITHDRAWN,
    CitizenState,
    FindSimilar,
    IdeaRequest,
    Inbound,
    InboundKind,
    SaveIdea,
)
from handlers.texts import load_texts
from nlp.embed import Embedder
from tests.bot.ideaboard_helpers import (
    CHANNEL,
    Ideas,
    RecordingChannel,
    add_citizen,
    citizen_of,
    encoded,
    similar_event,
)

NIGHT_TRAIN = "Die Schwebebahn sollte am Wochenende auch nach Mitternacht noch fahren."
NIGHT_TRAIN_AGAIN = "Schwebebahn am Wochenende auch nachts fahren lassen"
BINS = "Mehr Mülleimer am Von-der-Heydt-Platz"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(prefix="query")


class FailingEmbedder:
    """An embedder whose model fails (a broken installation, a text that crashes it)."""

    prefix = "query"
    key = "failing"

    def embed_one(self, text: str) -> Any:
        raise RuntimeError("the model failed on: " + text)


MakeRuntime = Callable[..., Runtime]


@pytest.fixture
async def make_runtime(config: Config, database: Database) -> AsyncIterator[MakeRuntime]:
    fields = field_infos()
    import_surveys(database, config.survey_dir, {f.key for f in fields}, datetime.now(UTC))
    made: list[Runtime] = []

    def factory(embedder: Any, channel: RecordingChannel | None = None) -> Runtime:
        runtime = Runtime(config, database, texts=load_texts(), fields=fields, catalog=load_catalog(database),
                          embedder=embedder)  # fmt: skip
        runtime.add_channel(channel or RecordingChannel())
        made.append(runtime)
        return runtime

    yield factory
    for runtime in made:
        await runtime.stop()


def spy(runtime: Runtime) -> list[Inbound]:
    """The events the runtime hands to the core, in order (the core's handling of them is the lead's part)."""
    seen: list[Inbound] = []
    process = runtime.decisions.process

    def recording(uow: Any, event: Inbound, now: datetime) -> bool:
        seen.append(event)
        return process(uow, event, now)

    runtime.decisions.process = recording  # type: ignore[method-assign]
    return seen


def ask(runtime: Runtime, user: str, text: str, draft: str = "d1") -> None:
    """What the core's idea-text step does: a FindSimilar effect, stored by the DecisionStore in the event's
    transaction (the runtime kicks the worker after the commit)."""
    with runtime.db.unit_of_work() as uow:
        citizen = add_citizen(uow, user)
        runtime.decisions._apply(uow, citizen, CitizenState(), FindSimilar(draft, text), datetime.now(UTC), CHANNEL)


def searches(database: Database) -> int:
    with database.unit_of_work() as uow:
        return int(uow.session.execute(select(func.count()).select_from(m.IdeaSearch)).scalar_one())


async def search(runtime: Runtime, user: str, text: str, draft: str = "d1") -> list[Inbound]:
    seen = spy(runtime)
    ask(runtime, user, text, draft)
    assert runtime.decisions.searches_added
    runtime.similar.kick()
    await runtime.wait_idle()
    return seen


async def test_a_citizen_hears_of_a_published_idea_proposing_the_same(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    ideas = Ideas(database, embedder)
    night = ideas.publish_new("author", NIGHT_TRAIN)
    ideas.publish_new("author2", BINS, "umwelt")
    runtime = make_runtime(embedder)
    await runtime.start()
    await runtime.wait_idle()
    assert runtime.similar.index is not None and len(runtime.similar.index) == 2  # built at start from stored vectors
    assert runtime.decisions.context(datetime.now(UTC)).similar_search is True

    result = similar_event(await search(runtime, "citizen", NIGHT_TRAIN_AGAIN, "d7"))

    assert result.draft_id == "d7"
    assert [(match.id, match.text, match.supporters, match.status, match.supported) for match in result.matches] == [
        (night, NIGHT_TRAIN, 0, "new", False)
    ]
    assert result.model == embedder.key
    vector = decode_vector(result.vector or "")
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
    assert searches(database) == 0  # answered: the row is gone


async def test_nothing_is_shown_when_no_published_idea_proposes_the_same(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    Ideas(database, embedder).publish_new("author", BINS, "umwelt")
    runtime = make_runtime(embedder)
    await runtime.start()
    result = similar_event(await search(runtime, "citizen", "Mülleimer öfter leeren"))  # a hard negative
    assert result.matches == () and result.vector is not None  # the vector still travels: filed with the idea


async def test_only_approved_public_texts_of_others_are_shown(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    ideas = Ideas(database, embedder)
    own = ideas.publish_new("citizen", NIGHT_TRAIN)  # the citizen's own published idea
    pending = ideas.file("a1", "Schwebebahn am Wochenende nachts fahren lassen")
    ideas.set(pending, publication=PUBLICATION_PENDING)
    edited = ideas.file("a2", "Die Schwebebahn soll am Wochenende nachts fahren, rufen Sie mich an: 0202 123456")
    ideas.publish(edited, public_text="Die Schwebebahn soll am Wochenende nachts fahren.")
    target = ideas.publish_new("a3", "Schwebebahn am Wochenende nachts länger fahren lassen")
    merged = ideas.publish_new("a4", "Schwebebahn in den Nächten am Wochenende")
    ideas.set(merged, merged_into=target, merged_at=datetime.now(UTC))
    runtime = make_runtime(embedder)
    await runtime.start()

    result = similar_event(await search(runtime, "citizen", NIGHT_TRAIN_AGAIN))

    shown = {match.id: match.text for match in result.matches}
    assert own not in shown and pending not in shown and merged not in shown
    assert edited in shown and shown[edited] == "Die Schwebebahn soll am Wochenende nachts fahren."
    assert "0202" not in " ".join(shown.values())  # the author's own words never reach another citizen
    assert len(result.matches) <= 3


async def test_a_search_stored_before_a_crash_is_answered_after_the_restart(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    night = Ideas(database, embedder).publish_new("author", NIGHT_TRAIN)
    crashed = make_runtime(embedder)  # never started: the process died between the commit and the search
    ask(crashed, "citizen", NIGHT_TRAIN_AGAIN)
    assert searches(database) == 1

    restarted = make_runtime(embedder)
    seen = spy(restarted)
    await restarted.start()
    await restarted.wait_idle()

    assert [match.id for match in similar_event(seen).matches] == [night]
    assert searches(database) == 0


async def test_a_search_answered_twice_after_a_crash_reaches_the_core_once(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    Ideas(database, embedder).publish_new("author", NIGHT_TRAIN)
    runtime = make_runtime(embedder)
    ask(runtime, "citizen", NIGHT_TRAIN_AGAIN)
    with database.unit_of_work() as uow:
        (row,) = store.pending_searches(uow, 10, datetime.now(UTC))
    vector = embedder.embed_one(NIGHT_TRAIN_AGAIN)
    worker: SimilarSearch = runtime.similar
    assert worker._finish(row, vector, []) is not None
    with database.unit_of_work() as uow:  # the crash: the row came back (its deletion was lost), the event stayed
        store.add_search(uow, citizen_of("citizen"), CHANNEL, row.draft_id, row.text, datetime.now(UTC))
        uow.session.execute(select(m.IdeaSearch)).scalars().one()
        uow.session.execute(m.IdeaSearch.__table__.update().values(id=row.id))
    assert worker._finish(row, vector, []) is None  # a duplicate: nothing new for the chat
    with database.unit_of_work() as uow:
        events = uow.session.execute(
            select(func.count()).select_from(m.InboundEvent).where(m.InboundEvent.event_id == f"similar:{row.id}")
        ).scalar_one()
    assert events == 1 and searches(database) == 0


async def test_when_embedding_fails_the_citizen_still_hears_back_without_matches(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    Ideas(database, embedder).publish_new("author", NIGHT_TRAIN)
    runtime = make_runtime(FailingEmbedder())
    await runtime.start()
    result = similar_event(await search(runtime, "citizen", NIGHT_TRAIN_AGAIN))
    assert result.matches == () and result.vector is None and result.model is None
    assert searches(database) == 0


async def test_a_runtime_without_embedder_answers_leftover_searches_and_asks_for_none(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    ask(make_runtime(embedder), "citizen", NIGHT_TRAIN_AGAIN)  # the embedder was switched off before the restart
    runtime = make_runtime(None)
    seen = spy(runtime)
    await runtime.start()
    await runtime.wait_idle()
    assert runtime.decisions.context(datetime.now(UTC)).similar_search is False
    assert similar_event(seen).vector is None and searches(database) == 0


async def test_the_index_follows_publication_changes_made_by_another_worker(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    ideas = Ideas(database, embedder)  # the other worker (or the staff CLI) writing to the same database
    ideas.publish_new("author", BINS, "umwelt")
    runtime = make_runtime(embedder)
    await runtime.start()

    async def found() -> list[str]:
        return [match.id for match in similar_event(await search(runtime, "citizen", NIGHT_TRAIN_AGAIN)).matches]

    assert await found() == []  # the index is built now
    night = ideas.file("author2", NIGHT_TRAIN)
    assert await found() == []  # filed, not published
    ideas.publish(night)
    assert await found() == [night]  # approved
    ideas.set(night, publication=PUBLICATION_WITHDRAWN)
    assert await found() == []  # withdrawn by its author
    ideas.publish(night)
    assert await found() == [night]
    into = ideas.publish_new("author3", BINS + " und am Laurentiusplatz", "umwelt")
    ideas.set(night, merged_into=into, merged_at=datetime.now(UTC))
    assert await found() == []  # merged into another idea
    ideas.set(night, merged_into=None, merged_at=None)
    assert await found() == [night]
    with database.unit_of_work() as uow:  # deleted with its author (/loeschen): publication_at says nothing
        uow.session.execute(delete(m.Idea).where(m.Idea.id == night))
    assert await found() == []
    assert runtime.similar.index is not None and night not in runtime.similar.index  # dropped from the index


async def test_a_change_committed_late_with_an_earlier_timestamp_is_still_seen(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    ideas = Ideas(database, embedder)
    ideas.publish_new("author", BINS, "umwelt")
    runtime = make_runtime(embedder)
    await runtime.start()
    await search(runtime, "citizen", NIGHT_TRAIN_AGAIN)  # the index is built and synced up to now
    night = ideas.file("author2", NIGHT_TRAIN)
    ideas.publish(night)
    ideas.set(night, publication_at=datetime.now(UTC) - timedelta(seconds=30))  # another worker's slower clock
    assert [m.id for m in similar_event(await search(runtime, "citizen", NIGHT_TRAIN_AGAIN)).matches] == [night]


def test_a_filed_idea_stores_the_searched_embedding_once(database: Database, embedder: Embedder, config: Config
                                                          ) -> None:  # fmt: skip
    from bot.decisions import DecisionStore

    decisions = DecisionStore(config, load_texts(), field_infos(), lambda: load_catalog(database))
    vector = encoded(embedder, NIGHT_TRAIN)
    with database.unit_of_work() as uow:
        citizen = add_citizen(uow, "citizen")
        for idea_id, embedding in (("a" * 32, vector), ("b" * 32, "not base64!"), ("c" * 32, None)):
            decisions._apply(uow, citizen, CitizenState(), SaveIdea(
                idea_id, NIGHT_TRAIN, "mobilitaet", embedding=embedding, embedding_model=embedder.key,
            ), datetime.now(UTC), CHANNEL)  # fmt: skip
    with database.unit_of_work() as uow:
        rows = dict(uow.session.execute(select(m.Idea.id, m.Idea.embedding)).all())
        models = dict(uow.session.execute(select(m.Idea.id, m.Idea.embedding_model)).all())
    assert decode_vector(rows["a" * 32]).tolist() == decode_vector(vector).tolist()
    assert models["a" * 32] == embedder.key
    assert rows["b" * 32] is None and models["b" * 32] is None  # a broken vector is dropped, never the idea
    assert rows["c" * 32] is None


# --- end to end through the citizen dialogue core --------------------------------------------------------------------

_events = iter(range(1, 1_000_000))


def said(user: str, text: str) -> Inbound:
    from bot.channels.base import text_event

    return text_event(CHANNEL, user, user, f"t{next(_events)}", text, datetime.now(UTC), "de")


def pressed(user: str, payload: str) -> Inbound:
    from handlers.events import InboundKind

    return Inbound(InboundKind.BUTTON, CHANNEL, user, user, f"b{next(_events)}", datetime.now(UTC), payload=payload)


async def talk(runtime: Runtime, *events: Inbound) -> None:
    for event in events:
        await runtime.accept([event])
        await runtime.wait_idle()


def buttons(channel: RecordingChannel, prefix: str) -> list[str]:
    return [b.payload for _, message in channel.sent for b in message.all_buttons() if b.payload.startswith(prefix)]


async def test_a_citizen_writing_the_same_idea_supports_the_published_one_instead(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    night = Ideas(database, embedder).publish_new("author", NIGHT_TRAIN)
    channel = RecordingChannel()
    runtime = make_runtime(embedder, channel)
    await runtime.start()
    await talk(runtime, said("fan", "Hallo"), pressed("fan", "consent:yes"), said("fan", "/idee " + NIGHT_TRAIN_AGAIN))

    shown = channel.sent[-1][1]
    assert NIGHT_TRAIN in shown.text and "Meine Idee ist anders" in [b.label for b in shown.all_buttons()]
    (support,) = buttons(channel, "ss:")
    assert support.startswith(f"ss:{night}:")
    await talk(runtime, pressed("fan", support))
    answer = channel.sent[-1][1]
    assert "1 Person unterstützt sie" in answer.text and "nicht noch einmal eingereicht" in answer.text
    await talk(runtime, pressed("fan", f"in:{night}:1"))
    with database.unit_of_work() as uow:
        assert store.support_of(uow, night, citizen_of("fan")) is True
        assert "idea_news" in uow.opt_ins.current(citizen_of("fan"))
        assert uow.session.execute(select(func.count()).select_from(m.Idea)).scalar_one() == 1  # not filed twice


async def test_a_different_idea_is_filed_with_the_embedding_the_search_made(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    Ideas(database, embedder).publish_new("author", BINS, "umwelt")
    channel = RecordingChannel()
    runtime = make_runtime(embedder, channel)
    await runtime.start()
    await talk(runtime, said("c", "Hallo"), pressed("c", "consent:yes"), said("c", "/idee " + NIGHT_TRAIN_AGAIN))
    assert buttons(channel, "ss:") == []  # nothing proposes the same: straight on to the field question
    field_buttons = buttons(channel, "f:")
    assert field_buttons, channel.sent[-1][1].text
    await talk(runtime, pressed("c", field_buttons[0]))
    with database.unit_of_work() as uow:
        stored = uow.session.execute(
            select(m.Idea.embedding, m.Idea.embedding_model).where(m.Idea.citizen_id == citizen_of("c"))
        ).one()
    assert stored.embedding_model == embedder.key
    expected = embedder.embed_one(NIGHT_TRAIN_AGAIN)  # the classifier's and the search's text preparation agree
    assert float(decode_vector(stored.embedding) @ expected) > 0.99


def test_the_search_shares_the_classifiers_e5_model() -> None:
    from bot.classify import TextClassifier
    from bot.runtime import similar_embedder
    from nlp.model import FieldClassifier

    model = FieldClassifier.load()
    embedder = similar_embedder(TextClassifier(model))
    assert embedder is model.scorer.embedder and embedder.prefix == "query"  # one e5 in memory, not two
    assert similar_embedder(None) is None


async def test_the_index_follows_moderation_withdrawal_merge_and_erasure_done_by_another_runtime(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    from bot.ideaboard import publication

    ideas = Ideas(database, embedder)
    night = ideas.file("author", NIGHT_TRAIN)
    other = ideas.publish_new("author2", BINS, "umwelt")
    searching = make_runtime(embedder)
    await searching.start()
    staff_side = make_runtime(embedder)  # a second worker on the same database: staff moderate there

    async def found() -> list[str]:
        return [match.id for match in similar_event(await search(searching, "citizen", NIGHT_TRAIN_AGAIN)).matches]

    def on_the_other(change: Callable[[Any], object]) -> None:
        with staff_side.db.unit_of_work() as uow:
            change(uow)

    author = citizen_of("author")
    on_the_other(lambda uow: publication.set_consent(uow, author, night, "keep", datetime.now(UTC), set()))
    assert await found() == []  # waiting for moderation
    on_the_other(lambda uow: publication.approve(uow, night, None, datetime.now(UTC)))
    assert await found() == [night]
    on_the_other(lambda uow: publication.withdraw_idea(uow, author, night, datetime.now(UTC)))
    assert await found() == []
    on_the_other(lambda uow: publication.set_consent(uow, author, night, "keep", datetime.now(UTC), set()))
    on_the_other(lambda uow: publication.approve(uow, night, None, datetime.now(UTC)))
    assert await found() == [night]
    with database.unit_of_work() as uow:  # a supporter: the idea outlives its author's data
        request = IdeaRequest(IDEA_SUPPORT, night)
        assert searching.decisions.board.handle(uow, request, citizen_of("citizen"), "de", datetime.now(UTC))
        assert store.support_of(uow, night, citizen_of("citizen")) is not None
    on_the_other(lambda uow: uow.citizens.delete_everything(author))  # /loeschen; consent "keep"
    assert await found() == []  # kept with its public text, but its vector came from the private text: gone
    assert searching.similar.index is not None and night not in searching.similar.index
    with database.unit_of_work() as uow:
        assert uow.session.execute(select(m.Idea.citizen_id).where(m.Idea.id == night)).scalar_one() is None
    assert other in searching.similar.index
    on_the_other(lambda uow: publication.merge(uow, other, night, datetime.now(UTC)))
    assert [m.id for m in similar_event(await search(searching, "citizen", BINS)).matches] == []  # merged away
    assert other not in searching.similar.index


async def test_a_search_stored_while_another_batch_finishes_is_still_answered(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    """PostgreSQL runs several batches at once: a batch that stored no search and committed first must not use up
    the kick of a batch whose search row is not committed yet."""
    import asyncio
    import threading

    if database.is_sqlite:
        pytest.skip("one database thread on SQLite: batches never overlap")
    runtime = make_runtime(embedder)
    kicks: list[int] = []
    runtime.similar.kick = lambda: kicks.append(searches(database))  # type: ignore[method-assign]
    with database.unit_of_work() as uow:
        add_citizen(uow, "a")
        add_citizen(uow, "b")
    await runtime.accept([Inbound(InboundKind.TEXT, CHANNEL, "a", "a", "e-a", datetime.now(UTC), text="Idee")])
    stored, release = threading.Event(), threading.Event()

    def process(uow: Any, event: Inbound, now: datetime) -> bool:
        runtime.decisions._apply(uow, citizen_of("a"), CitizenState(), FindSimilar("d1", NIGHT_TRAIN), now, CHANNEL)
        stored.set()
        release.wait(10)
        return False

    runtime.decisions.process = process  # type: ignore[method-assign]
    first = asyncio.create_task(runtime._process_batch_async([f"{CHANNEL}:a"]))
    assert await asyncio.to_thread(stored.wait, 10)
    await runtime._process_batch_async([f"{CHANNEL}:b"])  # nothing pending for b; commits while a's row is open
    release.set()
    await first
    assert kicks and kicks[-1] == 1  # kicked after the row was committed


async def test_the_periodic_sweep_kicks_the_search_worker(make_runtime: MakeRuntime, embedder: Embedder) -> None:
    """A row whose kick was lost (an error between commit and kick) is answered by the scheduler's sweep."""
    runtime = make_runtime(embedder)
    kicks: list[bool] = []
    runtime.similar.kick = lambda: kicks.append(True)  # type: ignore[method-assign]
    await runtime.resume_pending()
    assert kicks


class CountingEmbedder:
    """The real embedder, counting its calls."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.prefix = embedder.prefix
        self.key = embedder.key
        self.calls = 0

    def embed_one(self, text: str) -> Any:
        self.calls += 1
        return self.inner.embed_one(text)


async def test_two_workers_reading_the_same_search_embed_it_once(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    import asyncio

    Ideas(database, embedder).publish_new("author", NIGHT_TRAIN)
    counting = CountingEmbedder(embedder)
    first, second = make_runtime(counting), make_runtime(counting)
    ask(first, "citizen", NIGHT_TRAIN_AGAIN)
    with database.unit_of_work(read_only=True) as uow:
        (row,) = store.pending_searches(uow, 10, datetime.now(UTC))  # both workers read it before either claims

    await asyncio.gather(first.similar.answer(row), second.similar.answer(row))

    assert counting.calls == 1
    assert searches(database) == 0
    with database.unit_of_work() as uow:
        events = uow.session.execute(
            select(m.InboundEvent.event_id).where(m.InboundEvent.event_id.like("similar:%"))
        ).scalars().all()
    assert events == [f"similar:{row.id}"]


def test_a_claimed_search_is_offered_again_only_after_its_worker_is_taken_to_have_died(database: Database) -> None:
    created = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with database.unit_of_work() as uow:
        store.add_search(uow, add_citizen(uow, "citizen"), CHANNEL, "d1", NIGHT_TRAIN, created)
    with database.unit_of_work() as uow:
        (row,) = store.pending_searches(uow, 10, created)
        assert store.claim_search(uow, row) == 1
        assert store.claim_search(uow, row) is None  # a second worker with the same read loses
    with database.unit_of_work() as uow:
        assert store.pending_searches(uow, 10, created + timedelta(seconds=30)) == []  # being worked on
        (again,) = store.pending_searches(uow, 10, created + store.CLAIM_TIMEOUT)  # its worker died
        assert again.attempts == 1 and store.claim_search(uow, again) == 2
        assert store.pending_searches(uow, 10, created + store.CLAIM_TIMEOUT * 1.5) == []
        assert [r.id for r in store.pending_searches(uow, 10, created + store.CLAIM_TIMEOUT * 2)] == [row.id]


async def test_an_idea_approved_with_edited_wording_is_found_by_its_public_text_only(
    make_runtime: MakeRuntime, database: Database, embedder: Embedder
) -> None:
    from bot.ideaboard import publication
    from bot.themes import embed_backlog
    from nlp.similar import default_restorer, embedding_text

    private = NIGHT_TRAIN + " Ich wohne in der Hofaue 12 bei Familie Krause und arbeite nachts im Krankenhaus."
    ideas = Ideas(database, embedder)
    night = ideas.file("author", private)
    with database.unit_of_work() as uow:
        publication.set_consent(uow, citizen_of("author"), night, "keep", datetime.now(UTC), set())
        assert publication.approve(uow, night, NIGHT_TRAIN, datetime.now(UTC)) == NIGHT_TRAIN
    with database.unit_of_work() as uow:
        idea = uow.session.get(m.Idea, night)
        assert idea is not None and idea.embedding is None and idea.embedding_model is None  # out of the index

    restorer = default_restorer()
    report = embed_backlog(database, embedder, lambda text: embedding_text(text, restorer), datetime.now(UTC))
    assert report.ideas == 1
    with database.unit_of_work() as uow:
        idea = uow.session.get(m.Idea, night)
        assert idea is not None and idea.embedding is not None and idea.publication_at is not None
        vector = np.frombuffer(idea.embedding, dtype="<f4")
    public = embedder.embed_one(embedding_text(NIGHT_TRAIN, restorer))
    assert float(np.dot(vector, public)) > 0.999  # made of the public wording

    runtime = make_runtime(embedder)
    await runtime.start()
    await runtime.wait_idle()
    assert [m.id for m in similar_event(await search(runtime, "citizen", NIGHT_TRAIN_AGAIN)).matches] == [night]
    private_only = "Familie Krause in der Hofaue 12 arbeitet nachts im Krankenhaus"
    assert similar_event(await search(runtime, "citizen2", private_only, "d2")).matches == ()


async def test_an_idea_approved_with_its_own_wording_keeps_its_vector(database: Database, embedder: Embedder) -> None:
    from bot.ideaboard import publication

    night = Ideas(database, embedder).file("author", NIGHT_TRAIN)
    with database.unit_of_work() as uow:
        publication.set_consent(uow, citizen_of("author"), night, "keep", datetime.now(UTC), set())
        publication.approve(uow, night, None, datetime.now(UTC))
    with database.unit_of_work() as uow:
        idea = uow.session.get(m.Idea, night)
        assert idea is not None and idea.embedding is not None and idea.embedding_model == embedder.key
