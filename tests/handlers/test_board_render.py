"""The idea board's messages (pure): what a citizen reads and which buttons they get."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.board_render import PAGE_SIZE, BoardIdea, render_field_page, render_overview, render_supported
from handlers.fields import field_infos
from handlers.texts import load_texts

TEXTS = load_texts()
FIELDS = field_infos()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def idea(number: int, **changes: object) -> BoardIdea:
    values: dict[str, object] = dict(id=f"{number:032x}", text=f"Idee {number} " + "sehr lang " * 200,
                                     field="mobilitaet", supporters=number, status="review", supported=False,
                                     own=False, created_at=NOW)  # fmt: skip
    values.update(changes)
    return BoardIdea(**values)  # type: ignore[arg-type]


def test_a_full_page_of_long_ideas_fits_one_telegram_message_with_distinct_buttons() -> None:
    page = [idea(n) for n in range(PAGE_SIZE)]
    for lang in ("de", "en"):
        (message,) = render_field_page("mobilitaet", page, 1, 3 * PAGE_SIZE, TEXTS, lang, FIELDS)
        assert len(message.text) < 4096
        labels = [button.label for button in message.all_buttons()]
        assert len(labels) == len(set(labels)) == PAGE_SIZE + 3  # support ×5, back, next, all fields
        # numbered from 1 on every page, as the buttons are counted: typing "5" presses the fifth idea's button
        assert "\n5. „" in message.text and "\n6. „" not in message.text
        assert labels[4] in ("Nr. 5 unterstützen", "Support no. 5"), labels


def test_own_and_supported_ideas_get_the_right_button() -> None:
    (message,) = render_field_page(
        "mobilitaet", [idea(1, own=True), idea(2, supported=True), idea(3)], 0, 3, TEXTS, "de", FIELDS
    )
    assert [b.payload for b in message.all_buttons()] == [f"ix:{2:032x}", f"iu:{3:032x}", "ib:-:0"]
    assert "Sie unterstützen diese Idee" in message.text
    assert "Idee 1 " not in message.text, "one's own ideas are in /meineideen, not in /ideen"
    assert "\n1. „Idee 2 " in message.text and "\n2. „Idee 3 " in message.text


def test_overview_skips_empty_fields_and_names_them_in_the_readers_language() -> None:
    (message,) = render_overview({"mobilitaet": 2, "umwelt": 0, None: 4, "removed": 1}, TEXTS, "en", FIELDS)
    assert [b.payload for b in message.all_buttons()] == ["ib:mobilitaet:0", "ib:_:0"]
    assert "no field (5)" in [b.label for b in message.all_buttons()][1]
    assert FIELDS[[f.key for f in FIELDS].index("mobilitaet")].label("en") in message.text


def test_after_a_support_the_count_and_the_news_question() -> None:
    (message,) = render_supported(idea(1, supporters=1), "board", TEXTS, "de")
    assert "1 Person unterstützt sie" in message.text and "Bescheid" in message.text
    assert "nicht noch einmal" not in message.text
    assert [b.payload for b in message.all_buttons()] == [f"in:{1:032x}:1", f"in:{1:032x}:0"]
