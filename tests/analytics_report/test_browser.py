"""The report in headless Chromium (Debian's `chromium`, no browser download) at laptop and phone width."""

from __future__ import annotations

import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.analytics.report import build_report, write_report
from bot.storage.db import Database
from tests.analytics_report import dataset

CHROMIUM = Path("/usr/bin/chromium")
WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}
SCREENSHOT_COPY = Path("/tmp")  # the last run's screenshots stay here for a look: /tmp/report-<width>.png

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'report.db'}")
    database.migrate()
    dataset.fill(database)
    return database


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the Debian package chromium")
@pytest.mark.parametrize("lang", ["de", "en"])
def test_report_displays_without_errors_at_laptop_and_phone_width(
    sqlite_database: Database, tmp_path: Path, lang: str
) -> None:
    html = build_report(sqlite_database, survey=None, campaign=None, since=None, until=None, lang=lang,
                        min_count=dataset.K, timezone=ZoneInfo("Europe/Berlin"), fields=dataset.FIELDS,
                        now=dataset.NOW)
    page_file = tmp_path / "report.html"
    write_report(html, page_file)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for name, (width, height) in WIDTHS.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                errors: list[str] = []
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: errors.append(str(error)))
                requests: list[str] = []
                page.on("request", lambda request: requests.append(request.url))
                page.goto(page_file.as_uri())
                page.wait_for_load_state("load")
                assert errors == [], f"{name}: {errors}"
                assert requests == [page_file.as_uri()], "nothing but the file itself is loaded"
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px"
                sizes = page.evaluate(
                    "[...document.querySelectorAll('figure.chart svg')].map(s => {"
                    " const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
                )
                assert len(sizes) == 11 and all(w > 100 and h > 50 for w, h in sizes), sizes
                if name == "phone":
                    assert all(w <= width for w, _ in sizes)
                shot = tmp_path / f"report-{name}-{lang}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                if lang == "de":
                    shutil.copyfile(shot, SCREENSHOT_COPY / f"report-{name}.png")
                page.close()
        finally:
            browser.close()
