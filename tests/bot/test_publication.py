"""Publishing ideas (issue 13): the author's consent and the moderation queue, approve (redacted or edited) and
reject with the author told, withdrawal, merge — on SQLite and PostgreSQL, through the real runtime where staff and
citizens meet it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.ideaboard import publication
from bot.ideaboard.publication import PublicationError
from bot.identity import pseudonym
from bot.storage import models as m
from bot.storage.db import Database, UnitOfWork
from handlers.events import CitizenState, SetPublication
from handlers.publication_render import MODERATION_QUEUE_KIND, PUBLICATION_KIND
from handlers.texts import load_texts
from tests.bot.conftest import RuntimeFactory
from tests.bot.test_runtime import RecordingChannel, event, press

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TEXT = "Mehr Bänke an der Nordbahntrasse. Schreiben Sie mir: anna.muster@example.org oder 0202 5631234."
A, B, C = "a" * 32, "b" * 32, "c" * 32


def citizen(uow: UnitOfWork, citizen_id: str) -> None:
    state = CitizenState(language="de", language_chosen=True, consent_version="2", consent_at=NOW, flow="idle")
    uow.citizens.save_state(citizen_id, state, NOW)


def file_idea(db: Database, idea_id: str, author: str, text: str = TEXT, consent: str | None = "yes",
              at: datetime = NOW) -> None:
    with db.unit_of_work() as uow:
        if not uow.citizens.exists(author):
            citizen(uow, author)
        uow.ideas.add(idea_id, author, text, "leben", at)
        if consent is not None:
            publication.set_consent(uow, author, idea_id, consent, at, {"c_staff"})


def idea(db: Database, idea_id: str) -> m.Idea:
    with db.unit_of_work(read_only=True) as uow:
        row = uow.session.get(m.Idea, idea_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def follow_ups(db: Database, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.execute(
            select(m.FollowUp.citizen_id, m.FollowUp.status, m.FollowUp.payload)
            .where(m.FollowUp.kind == kind).order_by(m.FollowUp.id)
        ).all()
    return [(row[0], row[1], dict(row[2])) for row in rows]


@pytest.fixture
def db(database: Database) -> Database:
    with database.unit_of_work() as uow:
        citizen(uow, "c_staff")
    return database


# --- consent and queue ----------------------------------------------------------------------------------------


def test_yes_and_keep_queue_the_idea_and_no_keeps_it_private(db: Database) -> None:
    file_idea(db, A, "c_1", consent="yes")
    file_idea(db, B, "c_2", consent="keep")
    file_idea(db, C, "c_3", consent="no")
    assert [(idea(db, i).publication, idea(db, i).publish_consent) for i in (A, B, C)] == [
        ("pending", "yes"), ("pending", "keep"), ("none", "no")]
    assert idea(db, A).publication_at == NOW and idea(db, C).publication_at is None


def test_staff_hear_of_a_growing_queue_once_with_the_latest_count(db: Database) -> None:
    file_idea(db, A, "c_1")
    file_idea(db, B, "c_2")
    rows = follow_ups(db, MODERATION_QUEUE_KIND)
    assert [(who, status, payload["pending"]) for who, status, payload in rows] == [
        ("c_staff", "cancelled", 1), ("c_staff", "pending", 2)]  # at most one unsent per staff member


def test_a_citizen_cannot_put_someone_elses_idea_into_the_queue(db: Database) -> None:
    file_idea(db, A, "c_1", consent=None)
    with db.unit_of_work() as uow:
        citizen(uow, "c_other")
        assert publication.set_consent(uow, "c_other", A, "yes", NOW, set()) is False
    assert idea(db, A).publication == "none"


# --- approve / reject -----------------------------------------------------------------------------------------


def test_moderators_see_only_the_redacted_text_and_approving_publishes_it(db: Database) -> None:
    file_idea(db, A, "c_1")
    with db.unit_of_work() as uow:
        proposal = publication.next_proposal(uow)
        assert proposal is not None and "anna.muster" not in proposal.proposed and "5631234" not in proposal.proposed
        public = publication.approve(uow, A, None, NOW + timedelta(hours=1))
    stored = idea(db, A)
    assert (stored.publication, stored.public_text) == ("approved", public) and "anna.muster" not in public
    assert stored.publication_at == NOW + timedelta(hours=1)
    [(who, status, payload)] = follow_ups(db, PUBLICATION_KIND)
    assert (who, status, payload["outcome"], payload["public_text"], payload["edited"]) == (
        "c_1", "pending", "approved", public, True)  # redaction changed it: the author is told so


def test_staff_wording_is_published_and_a_rejection_needs_a_reason(db: Database) -> None:
    file_idea(db, A, "c_1")
    file_idea(db, B, "c_2", text="Ein Trinkbrunnen am Von-der-Heydt-Platz")
    with db.unit_of_work() as uow:
        assert publication.approve(uow, A, "Mehr Sitzbänke an der Nordbahntrasse", NOW) == (
            "Mehr Sitzbänke an der Nordbahntrasse")
        with pytest.raises(PublicationError) as error:
            publication.reject(uow, B, "  ", NOW)
        assert error.value.code == "reason_required"
        publication.reject(uow, B, "Das ist bereits beschlossen.", NOW)
        with pytest.raises(PublicationError) as again:
            publication.approve(uow, B, None, NOW)
        assert again.value.code == "not_pending"
    assert (idea(db, B).publication, idea(db, B).public_text, idea(db, B).publication_note) == (
        "rejected", None, "Das ist bereits beschlossen.")
    payloads = {who: payload for who, _, payload in follow_ups(db, PUBLICATION_KIND)}
    assert payloads["c_2"]["reason"] == "Das ist bereits beschlossen." and payloads["c_1"]["edited"] is True


def test_skipping_shows_the_next_proposal_and_wraps_round(db: Database) -> None:
    file_idea(db, A, "c_1", at=NOW)
    file_idea(db, B, "c_2", at=NOW + timedelta(minutes=1))
    with db.unit_of_work(read_only=True) as uow:
        first = publication.next_proposal(uow)
        second = publication.next_proposal(uow, A)
        third = publication.next_proposal(uow, B)
    assert [p.idea_id if p else None for p in (first, second, third)] == [A, B, A]
    assert first is not None and first.waiting == 2


# --- withdraw ---------------------------------------------------------------------------------------------------


def test_the_author_withdraws_and_nobody_else_can(db: Database) -> None:
    texts = load_texts()
    file_idea(db, A, "c_1")
    with db.unit_of_work() as uow:
        publication.approve(uow, A, None, NOW)
        citizen(uow, "c_other")
        [refused] = publication.withdraw(uow, "c_other", A, "de", texts, NOW)
        assert refused.text == texts.get("publication.withdraw_unknown", "de")
        [done] = publication.withdraw(uow, "c_1", A, "de", texts, NOW + timedelta(minutes=5))
        assert done.text == texts.get("publication.withdrawn", "de")
        [again] = publication.withdraw(uow, "c_1", A, "en", texts, NOW)
        assert again.text == texts.get("publication.withdraw_not_published", "en")
    stored = idea(db, A)
    assert (stored.publication, stored.public_text, stored.publication_at) == (
        "withdrawn", None, NOW + timedelta(minutes=5))


# --- merge ------------------------------------------------------------------------------------------------------


def support(db: Database, idea_id: str, who: str, news: bool = False) -> None:
    with db.unit_of_work() as uow:
        if not uow.citizens.exists(who):
            citizen(uow, who)
        uow.session.add(m.IdeaSupport(idea_id=idea_id, citizen_id=who, created_at=NOW, news=news))


def supporters(db: Database, idea_id: str) -> dict[str, bool]:
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.execute(select(m.IdeaSupport.citizen_id, m.IdeaSupport.news)
                                   .where(m.IdeaSupport.idea_id == idea_id))
        return {row[0]: bool(row[1]) for row in rows}


def test_merge_moves_supporters_without_duplicates_and_the_author_joins_with_news(db: Database) -> None:
    file_idea(db, A, "c_from")
    file_idea(db, B, "c_into", text="Sitzbänke entlang der Nordbahntrasse")
    with db.unit_of_work() as uow:
        publication.approve(uow, A, None, NOW)
        publication.approve(uow, B, None, NOW)
        uow.opt_ins.set("c_from", "idea_news", True, fields=(), source="chat", notice_version="2", now=NOW)
    support(db, A, "c_s1", news=True)
    support(db, A, "c_both")
    support(db, B, "c_both", news=False)
    support(db, A, "c_into")  # INTO's own author supported FROM: never a supporter of their own idea
    with db.unit_of_work(read_only=True) as uow:
        plan = publication.merge_plan(uow, A, B)
    assert (plan.supporters_moved, plan.supporters_already, plan.author_becomes_supporter) == (1, 1, True)
    with db.unit_of_work() as uow:
        publication.merge(uow, A, B, NOW + timedelta(hours=2))
    assert supporters(db, A) == {}
    assert supporters(db, B) == {"c_s1": True, "c_both": False, "c_from": True}
    merged = idea(db, A)
    assert (merged.merged_into, merged.publication_at) == (B, NOW + timedelta(hours=2))
    [(who, _, payload)] = follow_ups(db, "idea_news")
    assert who == "c_from" and payload["merged"] is True
    assert payload["into_public_text"] == idea(db, B).public_text
    with db.unit_of_work() as uow, pytest.raises(PublicationError) as error:
        publication.merge(uow, A, B, NOW)
    assert error.value.code == "already_merged"


def test_a_merge_never_reveals_an_unpublished_idea(db: Database) -> None:
    secret = "Geheimer Entwurf: Parkhaus am Wall abreißen"
    file_idea(db, A, "c_from")
    file_idea(db, B, "c_into", text=secret, consent="no")
    with db.unit_of_work() as uow:
        publication.merge(uow, A, B, NOW)
    [(_, _, payload)] = follow_ups(db, "idea_news")
    assert payload["into_public_text"] is None and secret not in str(payload)
    supported = supporters(db, B)
    assert supported == {"c_from": False}  # no idea_news opt-in: supporter without news


# --- through the runtime: the staff chat and the author's messages ------------------------------------------


async def test_staff_approve_and_reject_in_the_chat_and_the_authors_hear_of_it(
    make_runtime: RuntimeFactory, database: Database, config: Config
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel, replace(config, staff={"test:staff": "staff", "test:ana": "analyst"}))
    await runtime.start()
    for chat in ("1", "2"):
        for inbound in (event(chat, "/start"), press(chat, "consent:yes")):
            await runtime.accept([inbound])
            await runtime.wait_idle()
    await runtime.accept([event("staff", "/team")])
    await runtime.wait_idle()
    secret = config.pseudonym_secret
    one, two = pseudonym(secret, "test", "1"), pseudonym(secret, "test", "2")
    now = datetime.now(UTC)
    with database.unit_of_work() as uow:
        uow.ideas.add(A, one, TEXT, "leben", now - timedelta(minutes=2))
        uow.ideas.add(B, two, "Ein Trinkbrunnen am Von-der-Heydt-Platz", "leben", now - timedelta(minutes=1))
        store = runtime.decisions
        store._apply(uow, one, CitizenState(), SetPublication(A, "yes"), now)
        store._apply(uow, two, CitizenState(), SetPublication(B, "keep"), now)
    assert await runtime.feed_due_follow_ups() == 1  # the staff queue notice (the first one was superseded)
    await runtime.wait_idle()
    notice = channel.to("staff")[-1].text
    assert "auf Freigabe zur Veröffentlichung warten: 2" in notice and "/freigabe" in notice

    await runtime.accept([event("ana", "/freigabe")])  # the analyst may look, not decide
    await runtime.wait_idle()
    assert not channel.to("ana")[-1].all_buttons() and "anna.muster" not in channel.to("ana")[-1].text

    await runtime.accept([event("staff", "/freigabe")])
    await runtime.wait_idle()
    shown = channel.to("staff")[-1]
    assert "anna.muster" not in shown.text and "5631234" not in shown.text and shown.text.rstrip().endswith("?")
    assert [b.payload for b in shown.all_buttons()] == [f"sf:pa:{A}", f"sf:pe:{A}", f"sf:pr:{A}", f"sf:ps:{A}"]
    await runtime.accept([press("staff", f"sf:pe:{A}")])
    await runtime.wait_idle()
    await runtime.accept([event("staff", "Mehr Sitzbänke an der Nordbahntrasse")])
    await runtime.wait_idle()
    after = channel.to("staff")[-2:]
    assert "Veröffentlicht" in after[0].text and after[1].all_buttons()[0].payload == f"sf:pa:{B}"
    await runtime.accept([press("staff", f"sf:pr:{B}")])
    await runtime.wait_idle()
    await runtime.accept([event("staff", "Gibt es schon als Idee.")])
    await runtime.wait_idle()
    assert load_texts().get("moderation.empty", "de") in channel.to("staff")[-1].text

    assert await runtime.feed_due_follow_ups() == 2
    await runtime.wait_idle()
    approved, rejected = channel.to("1")[-1].text, channel.to("2")[-1].text
    assert "Mehr Sitzbänke an der Nordbahntrasse" in approved and "angepasst" in approved and "/meineideen" in approved
    assert "Gibt es schon als Idee." in rejected
    with database.unit_of_work(read_only=True) as uow:
        actions = [(e.action, e.outcome) for e in uow.audit.between()]
        details = [e.details for e in uow.audit.between()]
    assert ("publication_approve", "ok") in actions and ("publication_reject", "ok") in actions
    assert ("moderation", "ok") in actions
    assert "Nordbahntrasse" not in str(details)  # the audit log never holds the texts
    assert "Gibt es schon" not in str(details)  # nor staff's reason (its length only)
    assert {"reason_length": len("Gibt es schon als Idee.")}.items() <= next(
        d for (action, _), d in zip(actions, details, strict=True) if action == "publication_reject").items()


# --- /meineideen ------------------------------------------------------------------------------------------------


def test_my_ideas_shows_publication_supporters_and_offers_withdrawal(db: Database, config: Config) -> None:
    from bot.app import field_infos
    from bot.staffdesk.desk import StaffDesk
    from bot.survey_sync import load_catalog

    file_idea(db, A, "c_1", at=NOW)
    file_idea(db, B, "c_1", text="Ein Trinkbrunnen am Von-der-Heydt-Platz", consent="no", at=NOW + timedelta(1))
    file_idea(db, C, "c_2", text="Private Worte von c_2: Bushaltestelle überdachen", at=NOW)
    with db.unit_of_work() as uow:
        publication.approve(uow, A, "Mehr Sitzbänke an der Nordbahntrasse", NOW)
        publication.approve(uow, C, "Bushaltestellen überdachen", NOW)
    support(db, A, "c_2")
    support(db, C, "c_1")
    desk = StaffDesk(config, load_texts(), field_infos(), lambda: load_catalog(db))
    with db.unit_of_work(read_only=True) as uow:
        [message] = desk.my_ideas(uow, "c_1", "de")
    assert "„Mehr Sitzbänke an der Nordbahntrasse“" in message.text and "Unterstützungen: 1" in message.text
    assert "Bushaltestellen überdachen" in message.text and "Private Worte" not in message.text  # public text only
    assert [b.payload for b in message.all_buttons()] == [f"iw:{A}", f"ix:{C}"]  # not for the unpublished idea
    with db.unit_of_work() as uow:
        publication.set_consent(uow, "c_1", B, "yes", NOW, set())
        publication.reject(uow, B, "Das plant die Stadt bereits.", NOW)
    with db.unit_of_work(read_only=True) as uow:
        [again] = desk.my_ideas(uow, "c_1", "en")
    assert "The city's reason: Das plant die Stadt bereits." in again.text and "not approved" in again.text
    assert message.text.rstrip().endswith("?")


# --- privacy: /meinedaten and /loeschen ------------------------------------------------------------------------


def test_my_data_covers_publication_supports_embeddings_and_searches(db: Database) -> None:
    from handlers.my_data import render_export

    file_idea(db, A, "c_1", consent="keep")
    file_idea(db, B, "c_2", text="Private Worte: Bushaltestelle überdachen")
    with db.unit_of_work() as uow:
        publication.approve(uow, A, "Mehr Sitzbänke an der Nordbahntrasse", NOW)
        publication.approve(uow, B, "Bushaltestellen überdachen", NOW)
        uow.session.execute(m.Idea.__table__.update().where(m.Idea.id == A).values(
            embedding=b"\0" * 384 * 4, embedding_model="e5-small"))
        uow.session.add(m.IdeaSearch(citizen_id="c_1", channel="telegram", draft_id="d1", text="Noch eine Bank",
                                     created_at=NOW, attempts=0))
    support(db, A, "c_2")
    support(db, B, "c_1", news=True)
    with db.unit_of_work(read_only=True) as uow:
        data = uow.citizens.export("c_1")
    [mine] = data["ideas"]
    assert (mine["publish_consent"], mine["publication"], mine["public_text"], mine["supporters"]) == (
        "keep", "approved", "Mehr Sitzbänke an der Nordbahntrasse", 1)
    assert mine["embedding_stored"] is True and "embedding" not in mine  # said, never dumped
    assert data["supports"] == [{"created_at": NOW.isoformat(), "news": True,
                                 "public_text": "Bushaltestellen überdachen"}]
    assert "Private Worte" not in str(data)  # another citizen's own words never
    assert [s["text"] for s in data["similar_searches"]] == ["Noch eine Bank"]
    [message] = render_export(data, "de", load_texts())
    assert "384 Zahlen" in message.text and "Bushaltestellen überdachen" in message.text
    assert "auch über eine Löschung" in message.text and "Suchen nach ähnlichen Ideen" in message.text


def test_deleting_keeps_only_a_supported_published_keep_idea_without_any_link_to_the_author(db: Database) -> None:
    file_idea(db, A, "c_1", consent="keep")  # published, supported, keep: stays
    file_idea(db, B, "c_1", text="Zweite Idee, nur ja", consent="yes")  # published, supported, yes: deleted
    file_idea(db, C, "c_1", text="Dritte Idee, keep ohne Unterstützer", consent="keep")  # no supporter: deleted
    with db.unit_of_work() as uow:
        for idea_id in (A, B, C):
            publication.approve(uow, idea_id, None, NOW)
        uow.session.execute(m.Idea.__table__.update().where(m.Idea.id == A).values(embedding=b"\0" * 1536))
        uow.ideas.set_status(A, "review", "Wir prüfen das.", None, NOW, "cli")
        uow.session.add(m.IdeaSearch(citizen_id="c_1", channel="telegram", draft_id="d1", text="x",
                                     created_at=NOW, attempts=0))
    support(db, A, "c_2", news=True)
    support(db, B, "c_2", news=True)
    support(db, A, "c_3")
    with db.unit_of_work() as uow:  # a supporter's unsent news about B, which goes with its author
        uow.follow_ups.add("c_2", NOW, "idea_news", {"idea_id": B, "supporter": True}, now=NOW)
        counts = uow.citizens.delete_everything("c_1")
    assert counts["ideas_kept"] == 1 and counts["ideas"] == 2 and counts["idea_searches"] == 1
    kept = idea(db, A)
    assert kept.citizen_id is None and kept.text == kept.public_text and "anna.muster" not in kept.text
    assert kept.embedding is None and kept.publication == "approved" and kept.status == "review"
    with db.unit_of_work(read_only=True) as uow:
        assert uow.session.get(m.Idea, B) is None and uow.session.get(m.Idea, C) is None
        assert len(uow.ideas.history(A)) == 1  # status history kept
        assert not uow.citizens.exists("c_1")
    assert supporters(db, A) == {"c_2": True, "c_3": False}
    assert [(who, status) for who, status, p in follow_ups(db, "idea_news") if p.get("idea_id") == B] == [
        ("c_2", "cancelled")]


def test_deleting_a_merge_target_lets_the_merged_idea_stand_again(db: Database) -> None:
    file_idea(db, A, "c_from")
    file_idea(db, B, "c_into", consent="no")
    with db.unit_of_work() as uow:
        publication.merge(uow, A, B, NOW)
        uow.citizens.delete_everything("c_into")
    assert idea(db, A).merged_into is None


async def test_staff_merge_in_the_chat_after_a_preview_and_the_author_is_told_without_the_private_text(
    make_runtime: RuntimeFactory, database: Database, config: Config
) -> None:
    from bot.analytics.pseudonyms import idea_pseudonym

    channel = RecordingChannel()
    runtime = make_runtime(channel, replace(config, staff={"test:staff": "staff"}, quiet_hours=None))
    await runtime.start()
    for inbound in (event("1", "/start"), press("1", "consent:yes")):
        await runtime.accept([inbound])
        await runtime.wait_idle()
    secret = config.pseudonym_secret
    one = pseudonym(secret, "test", "1")
    with database.unit_of_work() as uow:
        citizen(uow, "c_into")
        uow.ideas.add(A, one, TEXT, "leben", NOW)
        uow.ideas.add(B, "c_into", "Privater Entwurf über Bänke", "leben", NOW)
        uow.opt_ins.set(one, "idea_news", True, fields=(), source="chat", notice_version="2", now=NOW)
    source, target = idea_pseudonym(secret, A), idea_pseudonym(secret, B)
    await runtime.accept([event("staff", f"/zusammenfuehren {source[:10]} {target}")])
    await runtime.wait_idle()
    preview = channel.to("staff")[-1]
    assert preview.text.rstrip().endswith("?") and "anna.muster" not in preview.text
    assert preview.all_buttons()[0].payload == f"sf:M:{source}:{target}"
    await runtime.accept([press("staff", f"sf:M:{source}:{target}")])
    await runtime.wait_idle()
    assert "Zusammengeführt" in channel.to("staff")[-1].text
    assert idea(database, A).merged_into == B and supporters(database, B) == {one: True}
    assert await runtime.feed_due_follow_ups() == 1
    await runtime.wait_idle()
    told = channel.to("1")[-1].text
    assert "zusammengeführt" in told and "Privater Entwurf" not in told


async def test_a_citizen_files_an_idea_agrees_to_publish_and_staff_find_it_in_the_queue(
    make_runtime: RuntimeFactory, database: Database, config: Config
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel, replace(config, staff={"test:staff": "staff"}))
    await runtime.start()
    await runtime.accept([event("staff", "/team")])
    await runtime.wait_idle()
    for inbound in (event("9", "/start"), press("9", "consent:yes"), event("9", f"/idee {TEXT}")):
        await runtime.accept([inbound])
        await runtime.wait_idle()
    leben = next(b.payload for b in channel.to("9")[-1].all_buttons() if b.payload.startswith("f:"))
    await runtime.accept([press("9", leben)])
    await runtime.wait_idle()
    keep = next(b.payload for b in channel.to("9")[-1].all_buttons() if b.payload.startswith("pb:keep:"))
    await runtime.accept([press("9", keep)])
    await runtime.wait_idle()
    idea_id = keep.rsplit(":", 1)[1]
    assert (idea(database, idea_id).publication, idea(database, idea_id).publish_consent) == ("pending", "keep")
    assert await runtime.feed_due_follow_ups() == 1
    await runtime.wait_idle()
    assert "auf Freigabe zur Veröffentlichung warten: 1" in channel.to("staff")[-1].text
    await runtime.accept([event("staff", "/freigabe")])
    await runtime.wait_idle()
    shown = channel.to("staff")[-1]
    assert f"sf:pa:{idea_id}" in [b.payload for b in shown.all_buttons()] and "anna.muster" not in shown.text


def test_no_on_an_older_message_takes_a_published_idea_back_and_a_rejected_one_is_not_queued_again(
    db: Database,
) -> None:
    file_idea(db, A, "c_1")
    file_idea(db, B, "c_2")
    with db.unit_of_work() as uow:
        publication.approve(uow, A, None, NOW)
        publication.reject(uow, B, "Gibt es schon.", NOW)
        publication.set_consent(uow, "c_1", A, "no", NOW + timedelta(days=1), set())
        assert publication.set_consent(uow, "c_2", B, "yes", NOW, set()) is False
    assert (idea(db, A).publication, idea(db, A).public_text) == ("withdrawn", None)
    assert idea(db, B).publication == "rejected"


@pytest.mark.parametrize("how", ["withdraw", "consent_no", "reject"])
def test_supporters_unsent_news_of_an_idea_leaving_the_board_is_cancelled(db: Database, how: str) -> None:
    """The news carries the public text: an idea withdrawn, taken back with "Nein" or rejected sends none of it."""
    file_idea(db, A, "c_1")
    file_idea(db, B, "c_9")
    with db.unit_of_work() as uow:
        publication.approve(uow, A, "Mehr Bänke an der Nordbahntrasse", NOW)
        publication.approve(uow, B, None, NOW)
    support(db, A, "c_2", news=True)
    support(db, B, "c_2", news=True)
    with db.unit_of_work() as uow:
        uow.follow_ups.add("c_2", NOW, "idea_news", {"idea_id": A, "public_text": "Mehr Bänke"}, now=NOW)
        uow.follow_ups.add("c_2", NOW, "idea_news", {"idea_id": B, "public_text": "other"}, now=NOW)
        uow.follow_ups.add("c_1", NOW, "idea_news", {"idea_id": A}, now=NOW)  # the author's own news stays
    later = NOW + timedelta(minutes=1)
    with db.unit_of_work() as uow:
        if how == "withdraw":
            publication.withdraw_idea(uow, "c_1", A, later)
        elif how == "consent_no":
            publication.set_consent(uow, "c_1", A, "no", later, {"c_staff"})
        else:  # taken back, queued again, then rejected by staff
            publication.withdraw_idea(uow, "c_1", A, later)
            publication.set_consent(uow, "c_1", A, "yes", later, {"c_staff"})
            uow.follow_ups.add("c_2", later, "idea_news", {"idea_id": A, "public_text": "Mehr Bänke"}, now=later)
            publication.reject(uow, A, "Doppelt", later)
    news = [(who, status, p["idea_id"]) for who, status, p in follow_ups(db, "idea_news")]
    assert ("c_2", "pending", A) not in news
    assert [status for who, status, idea_id in news if who == "c_2" and idea_id == A] and all(
        status == "cancelled" for who, status, idea_id in news if who == "c_2" and idea_id == A)
    assert ("c_2", "pending", B) in news and ("c_1", "pending", A) in news
