"""The report on a small dataset with known counts: every chart, its numbers, suppression, no quotes, no URLs."""

from __future__ import annotations

import re
import stat
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.analytics.report import FilterError, build_report, write_report
from bot.storage.db import Database
from tests.analytics_report import dataset

BERLIN = ZoneInfo("Europe/Berlin")


def report(database: Database, lang: str = "de", **filters: object) -> str:
    options: dict[str, object] = {"survey": None, "campaign": None, "since": None, "until": None, **filters}
    return build_report(database, lang=lang, min_count=dataset.K, timezone=BERLIN, fields=dataset.FIELDS,
                        now=dataset.NOW, **options)  # type: ignore[arg-type]


def parse(html: str) -> ET.Element:
    """The page as a tree — which also proves it is well-formed."""
    assert html.startswith("<!DOCTYPE html>")
    return ET.fromstring(html[html.index("<html"):])


def table_values(root: ET.Element, table_id: str, attribute: str = "count") -> dict[str, int | None]:
    """Row key → the count the table shows in `attribute` cells (None when marked suppressed)."""
    table = root.find(f".//table[@id='table-{table_id}']")
    assert table is not None, f"no table {table_id}"
    values: dict[str, int | None] = {}
    for row in table.iter("tr"):
        key = row.get("data-key")
        cell = next((td for td in row.iter("td") if f"data-{attribute}" in td.attrib), None)
        if key is None or cell is None:
            continue
        if cell.get("data-suppressed") == "1":
            assert "suppressed" in (cell.get("class") or "") and cell.get(f"data-{attribute}") == ""
            assert "unterdrückt" in "".join(cell.itertext()) or "suppressed" in "".join(cell.itertext())
            values[key] = None
        else:
            values[key] = int(cell.get(f"data-{attribute}") or "")
    return values


@pytest.fixture
def filled(database: Database) -> Database:
    dataset.fill(database)
    return database


def test_every_chart_is_there_with_its_table_as_text_alternative(filled: Database) -> None:
    root = parse(report(filled))
    charts = {figure.get("data-chart"): figure for figure in root.iter("figure")}
    questions = [q["id"] for q in dataset.SURVEY["questions"]]
    expected = {f"question-mobil-{q}" for q in questions} | {
        "funnel-mobil", "over-time-mobil", "ideas-per-field", "ideas-over-time", "classifier-kept"}
    assert set(charts) == expected
    for chart_id, figure in charts.items():
        assert "chart" in (figure.get("class") or "")
        assert figure.find("figcaption") is not None
        svg = figure.find(".//svg")
        assert svg is not None and svg.get("aria-describedby") == f"table-{chart_id}"
        assert figure.get("aria-describedby") == f"table-{chart_id}"
        assert svg.get("viewBox") and svg.get("width") is None, "the page scales the chart"
        assert figure.find(f".//table[@id='table-{chart_id}']") is not None


def test_the_tables_show_the_counts_with_small_ones_suppressed(filled: Database) -> None:
    root = parse(report(filled))
    expected = dataset.Expected()
    assert table_values(root, "question-mobil-modus") == expected.modus
    assert table_values(root, "question-mobil-linien") == expected.linien
    assert table_values(root, "question-mobil-zufrieden") == expected.zufrieden
    assert table_values(root, "question-mobil-rad_gut") == expected.rad_gut
    assert table_values(root, "funnel-mobil", "reached") == {
        **expected.funnel_reached, "completed": expected.completed, "started": expected.responses}
    dropped = table_values(root, "funnel-mobil", "dropped")
    expected_dropped = {key: value for key, value in expected.funnel_dropped.items() if key != "completed"}
    assert dropped == {**expected_dropped, "other": 0}, "the 'other' row is always listed (presence never leaks)"


def test_shares_come_from_shown_counts_only(filled: Database) -> None:
    root = parse(report(filled))
    table = root.find(".//table[@id='table-question-mobil-modus']")
    assert table is not None
    shares = {row.get("data-key"): td.get("data-share") for row in table.iter("tr")
              for td in row.iter("td") if "data-share" in td.attrib}
    assert float(shares["bus"] or "nan") == pytest.approx(26 / 37)
    assert shares["rad"] == "" and shares["auto"] == "", "no share of a suppressed count"
    multiple = root.find(".//table[@id='table-question-mobil-linien']")
    assert multiple is not None
    line2 = next(row for row in multiple.iter("tr") if row.get("data-key") == "l2")
    assert [td.get("data-share") for td in line2.iter("td") if "data-share" in td.attrib] == [f"{6 / 26:.6f}"]


def test_secondary_suppression_holds_in_every_partition_table(filled: Database) -> None:
    """Total minus the shown cells never equals one suppressed cell: at least two are hidden, together ≥ k."""
    root = parse(report(filled))
    checked = 0
    for table in root.iter("table"):
        values = table_values(root, table.get("id", "").removeprefix("table-"))
        if "total" not in values or values["total"] is None:
            continue
        if table.get("id") in ("table-question-mobil-linien",):
            continue  # multiple choice: the counts overlap, no partition
        cells = {key: value for key, value in values.items() if key != "total"}
        hidden = [key for key, value in cells.items() if value is None]
        if hidden:
            rest = values["total"] - sum(value for value in cells.values() if value is not None)
            assert len(hidden) >= 2 and rest >= dataset.K, (table.get("id"), values)
        checked += 1
    assert checked >= 6


def test_header_states_base_period_generation_and_self_selection(filled: Database) -> None:
    html = report(filled)
    root = parse(html)
    meta = {dd.get("data-meta"): "".join(dd.itertext()) for dd in root.iter("dd")}
    assert "Mobil in Wuppertal" in meta["0"]
    assert meta["1"] == "02.03.2026 – 13.03.2026"
    assert meta["2"] == "39 Antworten auf Umfragen (31 abgeschlossen), 30 Ideen"
    assert meta["3"].startswith("20.03.2026 13:00")
    note = root.find(".//p[@data-note='self-selection']")
    assert note is not None and "keine repräsentative" in (note.text or "")


def test_no_free_text_answer_no_rare_term_and_no_url(filled: Database) -> None:
    html = report(filled)
    assert dataset.SECRET_WORD not in html and "Huber" not in html and "Geheimer" not in html
    assert dataset.RARE_WORD not in html and "example.org" not in html
    assert not re.search(r"https?:", html), "no URL at all: the file opens without a network"
    assert "<script" not in html and "<link" not in html and "<img" not in html
    root = parse(html)
    terms = {section.get("data-terms"): [row.get("data-term") for row in section.iter("tr") if row.get("data-term")]
             for section in root.iter("section") if section.get("data-terms")}
    assert terms["mobilitaet"][:2] == ["bus", "fahren"] or terms["mobilitaet"][0] == "bus"
    assert "radweg" in terms["mobilitaet"] and "bäume" in terms["umwelt"]
    assert terms["verwaltung"] == [], "3 ideas: no term occurs in 5"


def test_english_report(filled: Database) -> None:
    html = report(filled, lang="en")
    root = parse(html)
    assert root.get("lang") == "en"
    assert "not a representative sample" in html and "Getting around Wuppertal" in html
    assert table_values(root, "question-mobil-modus") == dataset.Expected().modus


def test_filters_narrow_the_period_and_unknown_names_are_refused(filled: Database) -> None:
    since = datetime(2026, 3, 7, tzinfo=UTC)
    root = parse(report(filled, survey="mobil", since=since))
    values = table_values(root, "over-time-mobil")
    assert all(key >= "2026-03-07" for key in values if key != "total")
    with pytest.raises(FilterError):
        report(filled, survey="gibtsnicht")
    with pytest.raises(FilterError):
        report(filled, campaign="Herbst")
    with pytest.raises(ValueError):
        report(filled, lang="fr")


def test_an_empty_database_gives_a_report_that_says_so(database: Database) -> None:
    html = report(database)
    parse(html)
    assert "Keine Daten" in html and "0 Antworten auf Umfragen" in html


def test_the_file_is_written_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_report("<!DOCTYPE html><html></html>", target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_report("<!DOCTYPE html><html>2</html>", target)
    assert target.read_text(encoding="utf-8").endswith("2</html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"], "no temp file left behind"


def test_a_suppressed_idea_count_is_not_given_away_by_which_fields_are_listed(database: Database) -> None:
    """One idea: every field's count is suppressed, so the over-time columns, the classifier table and the top
    terms boxes list every configured field (none named alone as the one with ideas)."""
    with database.unit_of_work() as uow:
        dataset._citizen(uow, "c_solo")
        uow.ideas.add("idea-solo", "c_solo", "Mehr Bäume im Park bitte", "umwelt", dataset.START, fields=["umwelt"],
                      classification=dataset.scores("umwelt"))
    root = parse(report(database))
    assert set(table_values(root, "ideas-per-field").values()) == {None}
    over_time = root.find(".//table[@id='table-ideas-over-time']")
    assert over_time is not None
    columns = ["".join(th.itertext()) for th in over_time.iter("th") if th.get("scope") == "col"]
    names = [field.name["de"] for field in dataset.FIELDS]
    assert all(name in columns for name in names), columns
    assert set(table_values(root, "ideas-over-time").values()) <= {None, 0}
    boxes = [section.get("data-terms") for section in root.iter("section") if section.get("data-terms")]
    assert boxes == list(dataset.FIELD_KEYS)
    kept = table_values(root, "classifier-kept", "proposals")
    assert set(dataset.FIELD_KEYS) <= set(kept) and set(kept.values()) <= {None, 0}


def test_follow_up_questions_get_a_chart_based_on_the_citizens_asked(database: Database) -> None:
    """Sample: the follow-up 'nachher' (30 days later) was sent to two citizens, one answered 5, one not yet;
    a third row was never sent (not in the base)."""
    from handlers.events import FieldInfo
    from tests.analytics import sample

    sample.fill(database)
    fields = [FieldInfo(key, {"de": key.capitalize()}) for key in sample.FIELDS]
    html = build_report(database, survey=None, campaign=None, since=None, until=None, lang="de", min_count=1,
                        timezone=BERLIN, fields=fields, now=sample.NOW)
    root = parse(html)
    chart = root.find(".//figure[@data-chart='question-verkehr-nachher']")
    assert chart is not None
    caption = "".join(chart.find("figcaption").itertext())  # type: ignore[union-attr]
    assert "Nachfrage 1" in caption and "30 Tage" in caption
    assert "Basis: 2 Befragte" in "".join(chart.itertext())
    values = table_values(root, "question-verkehr-nachher")
    assert values["5"] == 1 and values["unanswered"] == 1 and values["skipped"] == 0
    assert values["total"] == 2


def _y_ticks(svg: str) -> list[str]:
    return re.findall(r'<g id="[^"]*ytick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, flags=re.DOTALL)


def test_a_chart_with_every_value_suppressed_keeps_a_plain_axis_and_says_so() -> None:
    from bot.analytics.report import charts

    svg = charts.time_chart(["01.03.", "02.03.", "03.03."], [None, None, None], prefix="t", suppressed="unterdrückt",
                            all_suppressed="alle Werte unterdrückt")
    ticks = _y_ticks(svg)
    assert ticks and not any(tick.startswith(("−", "-")) for tick in ticks), ticks
    assert "alle Werte unterdrückt" in svg
    bars = charts.bar_chart(["a", "b"], [None, None], prefix="b", suppressed="unterdrückt",
                            all_suppressed="alle Werte unterdrückt")
    assert "alle Werte unterdrückt" in bars and "−" not in bars
    multiples = charts.small_multiples(["A", "B"], ["01.03.", "02.03."], [[None, None], [0, 0]], prefix="m",
                                       suppressed="unterdrückt", all_suppressed="alle Werte unterdrückt")
    assert multiples.count("alle Werte unterdrückt") == 1 and "−" not in multiples


def test_generic_words_of_ideas_are_no_top_terms() -> None:
    from bot.analytics.report.terms import STOP_WORDS, tokens

    text = ("Meine Idee, ein Vorschlag: bitte mehr Bäume in Wuppertal, das wäre gut für die Stadt, es gibt zu wenig "
            "Grün und man sollte etwas tun. Please, the city should plant more trees, that would be a great idea")
    assert tokens(text) == {"bäume", "grün", "tun", "plant", "trees"}
    assert {"idee", "vorschlag", "bitte", "mehr", "sollte", "wäre", "gibt", "stadt", "wuppertal"} <= STOP_WORDS
    assert not {"bus", "radweg", "bäume", "park", "weg", "schule"} & STOP_WORDS


def test_number_ranges_do_not_show_the_values_of_few_respondents() -> None:
    from bot.analytics.report.questions import _number_bins

    edges = _number_bins([17.0, 23.0, 37.0, 51.0, 64.0] * 4, True, 2)
    width = edges[0][1] - edges[0][0]
    assert edges[0][0] % width == 0, edges
