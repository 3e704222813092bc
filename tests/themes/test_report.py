"""The report's "Themen" section: what it shows, what it never shows, and how it displays in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.analytics.report import build_report, write_report
from bot.storage import models as m
from bot.storage.db import Database
from bot.themes import refresh_themes
from tests.analytics_report.dataset import FIELDS
from tests.themes import data

CHROMIUM = Path("/usr/bin/chromium")
PENDING_PUBLIC = "Vorgeschlagener öffentlicher Text, noch nicht freigegeben"
MERGED_PUBLIC = "Zusammengeführte Idee mit eigenem öffentlichen Text"


def themed(database: Database) -> Database:
    vectors = data.Vectors.make()
    data.fill(database, vectors)
    with database.unit_of_work() as uow:
        data.import_survey(uow)
        data.citizen(uow, "u_1")
        data.citizen(uow, "u_2")
        data.citizen(uow, "u_3")
        # Three more proposals of benches that must never be quoted: unpublished, pending with a public text,
        # approved but merged into another idea.
        data.add_idea(uow, "unpublished", "u_1", "baenke", 90, vectors, approved=False)
        uow.session.execute(update(m.Idea).where(m.Idea.id == "unpublished").values(text=data.UNPUBLISHED))
        data.add_idea(uow, "pending", "u_2", "baenke", 91, vectors, approved=False)
        uow.session.execute(update(m.Idea).where(m.Idea.id == "pending").values(
            publication="pending", public_text=PENDING_PUBLIC))
        data.add_idea(uow, "merged", "u_3", "baenke", 92, vectors, approved=True)
        uow.session.execute(update(m.Idea).where(m.Idea.id == "merged").values(
            public_text=MERGED_PUBLIC, merged_into="a-baenke-0"))
    data.add_answers(database, vectors, "baeume", 4)
    refresh_themes(database, data.NOW)
    return database


def report(database: Database, k: int = 5, lang: str = "de") -> str:
    return build_report(database, survey=None, campaign=None, since=None, until=None, lang=lang, min_count=k,
                        timezone=ZoneInfo("Europe/Berlin"), fields=FIELDS, now=data.NOW)


def theme_blocks(html: str) -> dict[str, str]:
    return dict(re.findall(r'<article class="theme" data-theme="([^"]+)">(.*?)</article>', html, re.S))


def test_each_field_lists_its_themes_with_size_keywords_and_approved_quotes_only(database: Database) -> None:
    html = report(themed(database))
    assert 'data-section="themes"' in html and 'href="#themes"' in html
    blocks = theme_blocks(html)
    assert len(blocks) == 4
    benches = next(block for block in blocks.values() if "Sitzbänke an der Haltestelle 0" in block)
    assert re.search(r"<h4>[^<]*Haltestelle", benches), "keywords mentioned by at least k texts name the theme"
    assert 'data-key="size"' in benches and 'data-count="9"' in benches, "6 + unpublished + pending + merged"
    quoted = re.findall(r'<blockquote data-quote="\d">(.*?)</blockquote>', benches)
    assert len(quoted) == 3 and all(re.fullmatch(r"Mehr Sitzbänke an der Haltestelle [024] aufstellen", q)
                                    for q in quoted), quoted
    trees = next(block for block in blocks.values() if "Bäume" in block)
    assert 'data-count="10"' in trees, "6 ideas and 4 free-text answers"
    assert re.search(r'<section data-themes="verwaltung"><h3>[^<]+</h3><p class="note">', html), "no theme: a note"


def test_an_unpublished_idea_and_no_free_text_answer_ever_appear(database: Database) -> None:
    for lang in ("de", "en"):
        html = report(themed(database) if lang == "de" else database, lang=lang)
        assert data.PRIVATE_WORD not in html, "private idea texts and answers are never shown"
        assert data.UNPUBLISHED not in html and "Nummer 7" not in html
        assert PENDING_PUBLIC not in html, "a public text is shown only once approved"
        assert MERGED_PUBLIC not in html, "a merged idea is shown through the idea it joined"


def test_themes_of_fewer_than_k_texts_are_not_listed(database: Database) -> None:
    html = report(themed(database), k=11)
    assert theme_blocks(html) == {}
    assert html.count('data-themes="') == 3, "every configured field says so, with themes or not"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the Debian package chromium")
def test_the_themes_section_displays_in_headless_chromium_at_phone_width(database: Database, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    page_file = tmp_path / "report.html"
    write_report(report(themed(database)), page_file)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for width, height in ((1366, 900), (390, 844)):
                page = browser.new_page(viewport={"width": width, "height": height})
                errors: list[str] = []
                page.on("pageerror", lambda error, seen=errors: seen.append(str(error)))
                page.goto(page_file.as_uri())
                page.wait_for_load_state("load")
                assert errors == []
                assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
                boxes = page.evaluate("[...document.querySelectorAll('article.theme')].map(a => {"
                                      " const r = a.getBoundingClientRect(); return [r.width, r.height]; })")
                assert len(boxes) == 4 and all(0 < w <= width and h > 80 for w, h in boxes), boxes
                quotes = page.locator("article.theme blockquote")
                assert quotes.count() >= 3 and quotes.first.is_visible()
                page.screenshot(path=str(tmp_path / f"themes-{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
