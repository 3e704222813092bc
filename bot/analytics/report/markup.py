"""HTML building blocks of the report: numbers in the reader's language, table cells, chart figures, the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from .suppress import Cell
from .texts import Texts

_GERMAN_DIGITS = str.maketrans(",.", ".,")


@dataclass(frozen=True)
class Look:
    """How the report writes numbers and suppressed cells: language texts plus k."""

    texts: Texts
    k: int

    def int(self, value: int) -> str:
        text = f"{value:,}"
        return text.replace(",", ".") if self.texts.lang == "de" else text

    def share(self, value: float) -> str:
        text = f"{value * 100:.1f}"
        return f"{text.replace('.', ',')} %" if self.texts.lang == "de" else f"{text} %"

    def number(self, value: float) -> str:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
        if self.texts.lang == "de":
            text = text.translate(_GERMAN_DIGITS)
        return text

    def cell(self, cell: Cell, *, key: str = "count") -> str:
        """A count cell: the number, or the marked suppressed cell."""
        if cell.suppressed:
            title = escape(self.texts("suppressed_title", k=self.k))
            return (f'<td class="num suppressed" data-suppressed="1" data-{key}="" title="{title}">'
                    f"{escape(self.texts('suppressed'))}</td>")
        return f'<td class="num" data-{key}="{cell.count}">{self.int(cell.count)}</td>'

    def share_cell(self, share: float | None) -> str:
        if share is None:
            return '<td class="num share" data-share="">–</td>'
        return f'<td class="num share" data-share="{share:.6f}">{self.share(share)}</td>'


def row(key: str, label: str, *cells: str, css: str = "") -> str:
    css_attr = f' class="{css}"' if css else ""
    return f'<tr data-key="{escape(key)}"{css_attr}><th scope="row">{escape(label)}</th>{"".join(cells)}</tr>'


def table(table_id: str, caption: str, headers: Sequence[str], rows: Sequence[str], foot: Sequence[str] = ()) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    footer = f"<tfoot>{''.join(foot)}</tfoot>" if foot else ""
    return (
        f'<div class="table-wrap"><table id="{table_id}" data-table="{table_id.removeprefix("table-")}">'
        f'<caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody>{footer}</table></div>"
    )


def figure(
    chart_id: str, title: str, svg: str, table_html: str, texts: Texts, notes: Sequence[str] = (), *,
    wide: bool = False,
) -> str:
    """A chart with its numbers table beside it; the table is the chart's text alternative."""
    table_id = f"table-{chart_id}"
    label = escape(texts("chart_of", title=title))
    svg = svg.replace("<svg", f'<svg role="img" aria-label="{label}" aria-describedby="{table_id}"', 1)
    note_html = "".join(f'<p class="note">{escape(note)}</p>' for note in notes)
    return (
        f'<figure class="chart{" wide" if wide else ""}" data-chart="{chart_id}" aria-describedby="{table_id}">'
        f"<figcaption>{escape(title)}</figcaption>"
        f'<div class="chart-body"><div class="chart-image">{svg}</div>'
        f'<div class="chart-table">{table_html}{note_html}</div></div></figure>'
    )


CSS = """
:root { --ink: #1b1b1b; --muted: #555; --line: #d6d6d6; --accent: #0072B2; --band: #f5f7fa; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
  color: var(--ink); background: #fff; line-height: 1.45; font-size: 16px; }
main { max-width: 1180px; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.7rem; margin: 0.4rem 0 0.8rem; line-height: 1.2; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 0.6rem; padding-top: 0.6rem; border-top: 3px solid var(--accent); }
h3 { font-size: 1.1rem; margin: 1.6rem 0 0.5rem; }
h1, h2, h3, figcaption, p, li, dd { overflow-wrap: anywhere; }
th, td { overflow-wrap: break-word; }
tbody th[scope="row"] { min-width: 6.5em; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0 0 1rem; }
.meta dt { font-weight: 600; }
.meta dd { margin: 0; }
.notice { background: #fff4e0; border-left: 5px solid #E69F00; padding: 0.7rem 0.9rem; margin: 0.8rem 0; }
.privacy { background: var(--band); border-left: 5px solid var(--accent); padding: 0.7rem 0.9rem; margin: 0.8rem 0; }
nav ol { padding-left: 1.3rem; margin: 0.3rem 0; }
figure.chart { margin: 1rem 0 1.8rem; padding: 0.8rem; border: 1px solid var(--line); border-radius: 6px; }
figure.chart figcaption { font-weight: 600; font-size: 1.05rem; margin-bottom: 0.6rem; }
.chart-body { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; align-items: start; }
@media (min-width: 820px) {
  figure.chart:not(.wide) .chart-body { grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
}
.chart-image { min-width: 0; }
svg.chart-svg { display: block; width: 100%; height: auto; max-width: 540px; margin: 0 auto; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 0.3rem; }
th, td { padding: 0.3rem 0.45rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.suppressed { color: var(--muted); font-style: italic;
  background: repeating-linear-gradient(45deg, #fff, #fff 4px, #eee 4px, #eee 8px); }
tfoot th, tfoot td { font-weight: 600; border-top: 2px solid #999; }
.note { color: var(--muted); font-size: 0.88rem; margin: 0.5rem 0 0; }
.terms { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 260px), 1fr)); gap: 1rem; }
.terms section { border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem; }
.terms h3 { margin-top: 0; }
.theme { border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem; margin: 0.8rem 0; }
.theme h4 { margin: 0 0 0.3rem; font-size: 1rem; overflow-wrap: anywhere; }
.theme table { max-width: 28rem; }
.theme blockquote { margin: 0.4rem 0; padding: 0.3rem 0.7rem; border-left: 4px solid var(--accent);
  background: var(--band); overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 2rem; }
@media print { figure.chart { break-inside: avoid; } }
"""


def page(lang: str, title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
