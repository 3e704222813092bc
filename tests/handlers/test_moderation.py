"""Moderation and merging in the staff chat, the pure core's part (handlers/moderation.py): which request each
command and button means, the typed wording and reason, the merge preview rule, and the author's news."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from handlers.events import ROLE_ANALYST, ROLE_STAFF, FollowUpOutcome, InboundKind, StaffRequest
from handlers.publication_render import (
    MODERATION_QUEUE_KIND,
    PUBLICATION_KIND,
    render_merge_news,
    render_proposal,
    render_publication_news,
)
from handlers.state import Flow
from tests.handlers.chat import Chat, catalog_of, texts
from tests.handlers.sample import sample_survey

IDEA_ID = "0123456789abcdef0123456789abcdef"
TZ = ZoneInfo("Europe/Berlin")


def new_chat(role: str | None = ROLE_STAFF, *, consent: bool = True) -> Chat:
    chat = Chat(catalog_of(sample_survey()), staff_role=role)
    if consent:
        chat.agree()
    return chat


def tap(chat: Chat, payload: str) -> None:
    """A staff button of a message the runtime rendered (not one the core made)."""
    chat.event(InboundKind.BUTTON, payload=payload, message_ref="m7")


def test_freigabe_asks_the_runtime_and_a_citizen_does_not_have_it() -> None:
    chat = new_chat()
    chat.command("freigabe")
    assert chat.store.staff_requests == [StaffRequest("moderation")]
    citizen = new_chat(None)
    citizen.command("freigabe")
    assert citizen.store.staff_requests == []


def test_edit_asks_for_the_wording_and_sends_it_as_the_approval() -> None:
    chat = new_chat()
    tap(chat, f"sf:pe:{IDEA_ID}")
    assert chat.flow == Flow.STAFF_NOTE.value and "Wortlaut" in chat.text
    chat.say("x" * 1001)
    assert "1001" in chat.text and chat.store.staff_requests == []
    chat.say("  Mehr Sitzbänke an der Nordbahntrasse ")
    assert chat.store.staff_requests == [StaffRequest("publication_approve", IDEA_ID,
                                                      note="Mehr Sitzbänke an der Nordbahntrasse")]
    assert chat.flow == Flow.MENU.value and chat.data.get("staff") is None


def test_reject_needs_a_typed_reason_and_abbrechen_changes_nothing() -> None:
    chat = new_chat(consent=False)
    tap(chat, f"sf:pr:{IDEA_ID}")
    assert "Grund" in chat.text
    chat.event(InboundKind.MEDIA, media="sticker")
    assert chat.flow == Flow.STAFF_NOTE.value and "Grund" in chat.text
    chat.command("abbrechen")
    assert chat.flow == Flow.NEW.value and chat.store.staff_requests == []
    tap(chat, f"sf:pr:{IDEA_ID}")
    chat.say("Das ist bereits beschlossen.")
    assert chat.store.staff_requests == [StaffRequest("publication_reject", IDEA_ID,
                                                      note="Das ist bereits beschlossen.")]


def test_approve_and_skip_buttons_and_stale_ones() -> None:
    chat = new_chat()
    tap(chat, f"sf:pa:{IDEA_ID}")
    tap(chat, f"sf:ps:{IDEA_ID}")
    tap(chat, "sf:pa:nothex")
    assert chat.store.staff_requests == [StaffRequest("publication_approve", IDEA_ID),
                                         StaffRequest("moderation", IDEA_ID)]
    assert chat.text == texts().get("staff.stale", "de")


def test_an_analyst_gets_no_typing_step_the_runtime_refuses_and_logs() -> None:
    chat = new_chat(ROLE_ANALYST)
    tap(chat, f"sf:pr:{IDEA_ID}")
    assert chat.flow != Flow.STAFF_NOTE.value
    assert chat.store.staff_requests == [StaffRequest("publication_reject", IDEA_ID)]


def test_merge_confirms_only_right_after_this_staff_members_own_preview() -> None:
    source, target = "i_0123456789abcdef", "i_fedcba9876543210"
    chat = new_chat()
    tap(chat, f"sf:M:{source}:{target}")  # no preview: nothing merges
    assert chat.store.staff_requests == [] and "/zusammenfuehren" in chat.text
    chat.command("zusammenfuehren", "i_0123")  # one reference only
    assert chat.text == texts().get("moderation.usage_merge", "de")
    chat.command("zusammenfuehren", "i_012345 i_fedcba98")
    assert chat.store.staff_requests == [StaffRequest("merge_preview", "i_012345 i_fedcba98")]
    tap(chat, f"sf:M:{target}:{source}")  # the other direction was not previewed
    assert len(chat.store.staff_requests) == 1
    chat.now += timedelta(hours=2)
    tap(chat, f"sf:M:{source}:{target}")  # too late
    assert len(chat.store.staff_requests) == 1
    chat.command("zusammenfuehren", "i_012345 i_fedcba98")
    tap(chat, f"sf:M:{source}:{target}")
    assert chat.store.staff_requests[-1] == StaffRequest("merge", f"{source}:{target}")
    tap(chat, f"sf:M:{source}:{target}")  # a double tap merges once
    assert [r.action for r in chat.store.staff_requests].count("merge") == 1


def test_the_author_hears_approved_edited_rejected_and_merged() -> None:
    t = texts()
    approved = render_publication_news({"outcome": "approved", "public_text": "Mehr Bänke", "edited": True,
                                        "excerpt": "Mehr Bänke, ruft mich an", "filed_at": "2026-12-01T10:00:00+00:00"},
                                       t, "de", TZ)  # fmt: skip
    assert "angepasst" in approved.text and "„Mehr Bänke“" in approved.text and "/meineideen" in approved.text
    rejected = render_publication_news({"outcome": "rejected", "reason": "Gibt es schon."}, t, "en", TZ)
    assert "Gibt es schon." in rejected.text and "not be published" in rejected.text
    hidden = render_merge_news({"merged": True, "excerpt": "Bank", "into_public_text": None}, t, "de", TZ)
    assert t.get("publication.merged_unpublished", "de") in hidden.text


def test_publication_news_needs_no_opt_in_but_waits_while_paused_and_the_queue_notice_reaches_staff() -> None:
    chat = new_chat(None)
    chat.follow_up(PUBLICATION_KIND, outcome="approved", public_text="Mehr Bänke", edited=False, excerpt="Mehr Bänke",
                   filed_at="2026-12-01T10:00:00+00:00")  # fmt: skip
    assert "Mehr Bänke" in chat.text
    assert chat.last.effects[-1] == FollowUpOutcome(1, "sent")
    staff = new_chat(ROLE_STAFF, consent=False)
    staff.follow_up(MODERATION_QUEUE_KIND, queue="moderation", pending=3)
    assert staff.text == texts().get("moderation.queue_notice", "de", count=3)


def test_a_proposal_with_buttons_ends_with_a_question_and_analysts_get_none() -> None:
    t = texts()
    from datetime import UTC, datetime

    [staff] = render_proposal(IDEA_ID, "Mehr Bänke", "Leben", datetime(2026, 12, 1, tzinfo=UTC), 2, ROLE_STAFF, t,
                              "de", TZ)  # fmt: skip
    assert staff.text.endswith("?") and len(staff.all_buttons()) == 4
    assert all(len(b.payload.encode()) <= 64 for b in staff.all_buttons())
    [analyst] = render_proposal(IDEA_ID, "Mehr Bänke", "Leben", datetime(2026, 12, 1, tzinfo=UTC), 2, ROLE_ANALYST,
                                t, "en", TZ)  # fmt: skip
    assert not analyst.all_buttons()
