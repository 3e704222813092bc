"""The idea sections: ideas per strategy field (and over time), kept classifier proposals, top terms."""

from __future__ import annotations

from collections import Counter
from datetime import date
from html import escape

from . import charts, periods
from .data import NO_FIELD, IdeaStats
from .markup import Look, figure, row, table
from .suppress import Cell, sum_reveals, suppress_partition, suppress_value
from .terms import rank


def _fields_with_none(field_names: dict[str, str], look: Look) -> list[tuple[str, str]]:
    return [*field_names.items(), (NO_FIELD, look.texts("no_field"))]


def per_field_figure(ideas: IdeaStats, look: Look, field_names: dict[str, str]) -> tuple[str, dict[str, Cell]]:
    """Ideas per field (a partition of all ideas); returns the figure and each field's total cell."""
    t = look.texts
    fields = _fields_with_none(field_names, look)
    totals: Counter[str] = Counter()
    for (field_key, _), count in ideas.per_field_day.items():
        totals[field_key] += count
    group = suppress_partition([totals[key] for key, _ in fields], look.k)
    chart_id = "ideas-per-field"
    rows = [row(key or "none", name, look.cell(cell), look.share_cell(group.share(i)))
            for i, ((key, name), cell) in enumerate(zip(fields, group.cells, strict=True))]
    foot = [row("total", t("total"), look.cell(group.total), look.share_cell(None))]
    svg = charts.bar_chart([name for _, name in fields], [cell.value for cell in group.cells], prefix=chart_id,
                           suppressed=t("suppressed"), all_suppressed=t("all_suppressed"), axis_label=t("count"))
    body = table(f"table-{chart_id}", t("table_of", title=t("ideas_per_field")), [t("field"), t("count"), t("share")],
                 rows, foot)
    cells = {key: cell for (key, _), cell in zip(fields, group.cells, strict=True)}
    return figure(chart_id, t("ideas_per_field"), svg, body, t), cells


def over_time_figure(ideas: IdeaStats, look: Look, field_names: dict[str, str], totals: dict[str, Cell]) -> str:
    """Per field a partition of its ideas over the periods; a field whose total is suppressed is hidden whole.

    Every configured field (and "no field") is a column, with ideas or not: listing only the fields that have
    ideas would name the ones whose count "ideas per field" suppressed."""
    t = look.texts
    days = [day for _, day in ideas.per_field_day]
    per_day: Counter[date] = Counter()
    for (_, day), count in ideas.per_field_day.items():
        per_day[day] += count
    unit = periods.unit_for(per_day, look.k * len(field_names))
    starts = periods.buckets(days, unit)
    fields = _fields_with_none(field_names, look)
    matrix: list[list[Cell]] = []
    for key, _ in fields:
        per_bucket: Counter[date] = Counter()
        for (field_key, day), count in ideas.per_field_day.items():
            if field_key == key:
                per_bucket[periods.bucket(day, unit)] += count
        counts = [per_bucket[start] for start in starts]
        if totals[key].suppressed:
            matrix.append([Cell(count, True) for count in counts])
        else:
            matrix.append(list(suppress_partition(counts, look.k).cells))
    chart_id = "ideas-over-time"
    labels = [periods.label(start, t.lang) for start in starts]
    header = t("day") if unit == "day" else t("week")
    rows = [row(start.isoformat(), label, *(look.cell(matrix[f][i]) for f in range(len(fields))))
            for i, (start, label) in enumerate(zip(starts, labels, strict=True))]
    foot = [row("total", t("total"), *(look.cell(totals[key]) for key, _ in fields))]
    svg = charts.small_multiples([name for _, name in fields], labels,
                                 [[cell.value for cell in cells] for cells in matrix], prefix=chart_id,
                                 suppressed=t("suppressed"), all_suppressed=t("all_suppressed"))
    title = t("ideas_per_field_time")
    body = table(f"table-{chart_id}", t("table_of", title=title), [header.capitalize(), *(n for _, n in fields)], rows,
                 foot)
    return figure(chart_id, f"{title} ({t('ideas_per_field_time_caption', unit=header)})", svg, body, t,
                  wide=len(fields) > 2)


def kept_figure(ideas: IdeaStats, look: Look, field_names: dict[str, str]) -> str:
    """Per proposed field: kept vs changed (a partition of the proposals), and the share kept."""
    t = look.texts
    chart_id = "classifier-kept"
    names = dict(field_names)
    # Every configured field is a row (a field only listed when proposed would give away that it was proposed).
    keys = list(names) + sorted(k for k in ideas.proposed if k not in names)
    rows: list[str] = []
    shares: list[float | None] = []
    hidden_kept: list[int] = []
    hidden_changed: list[int] = []
    for key in keys:
        total = ideas.proposed[key]
        group = suppress_partition([ideas.kept[key], total - ideas.kept[key]], look.k)
        kept, changed = group.cells
        shares.append(group.share(0))
        hidden_kept += [kept.count] if kept.suppressed else []
        hidden_changed += [changed.count] if changed.suppressed else []
        rows.append(row(key, names.get(key, key), look.cell(group.total, key="proposals"), look.cell(kept, key="kept"),
                        look.cell(changed, key="changed"), look.share_cell(group.share(0))))
    all_kept = sum(ideas.kept[key] for key in keys)
    all_total = sum(ideas.proposed[key] for key in keys)
    overall = suppress_partition([all_kept, all_total - all_kept], look.k)
    # The overall counts minus the shown per-field counts give the sum of the suppressed per-field ones.
    hide_overall = sum_reveals(hidden_kept, look.k) or sum_reveals(hidden_changed, look.k)
    o_kept, o_changed = (Cell(c.count, True) for c in overall.cells) if hide_overall else overall.cells
    o_share = None if hide_overall else overall.share(0)
    foot = [row("total", t("total"), look.cell(overall.total, key="proposals"), look.cell(o_kept, key="kept"),
                look.cell(o_changed, key="changed"), look.share_cell(o_share))]
    svg = charts.bar_chart([names.get(key, key) for key in keys], shares, prefix=chart_id, suppressed=t("suppressed"),
                           all_suppressed=t("all_suppressed"),
                           percent=True, axis_label=t("kept_share"))
    headers = [t("proposed_field"), t("proposals"), t("kept_count"), t("changed_count"), t("kept_share")]
    body = table(f"table-{chart_id}", t("table_of", title=t("kept")), headers, rows, foot)
    return figure(chart_id, t("kept_caption"), svg, body, t, wide=True)


def terms_section(ideas: IdeaStats, look: Look, field_names: dict[str, str], totals: dict[str, Cell]) -> str:
    """A box per configured field; no term where the field's idea count is suppressed (or below k)."""
    t = look.texts
    parts = [f'<p class="note">{escape(t("terms_note", k=look.k))}</p><div class="terms">']
    # Every configured field gets a box, with ideas or not: a box only for fields with ideas would name the
    # fields whose count "ideas per field" suppressed.
    for key, name in field_names.items():
        texts = suppress_value(ideas.texts_per_field[key], look.k)
        terms = [] if texts.suppressed or totals[key].suppressed else rank(ideas.term_texts.get(key, Counter()), look.k)
        parts.append(f'<section data-terms="{escape(key)}"><h3>{escape(name)}</h3>')
        if terms:
            rows = [f'<tr data-term="{escape(term.term)}"><td>{escape(term.term)}</td>'
                    f'<td class="num" data-count="{term.texts}">{look.int(term.texts)}</td></tr>' for term in terms]
            parts.append(table(f"table-terms-{key}", f"{t('terms')}: {name}", [t("term"), t("term_texts")], rows))
        else:
            parts.append(f'<p class="note">{escape(t("no_terms", k=look.k))}</p>')
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def ideas_section(ideas: IdeaStats, look: Look, field_names: dict[str, str]) -> str:
    t = look.texts
    parts = [f'<section id="ideas" data-section="ideas"><h2>{escape(t("ideas"))}</h2>',
             f'<p class="note">{escape(t("ideas_note"))} N = {look.int(ideas.total)}</p>']
    if not ideas.total:
        parts.append(f"<p>{escape(t('no_data'))}</p></section>")
        return "".join(parts)
    per_field, totals = per_field_figure(ideas, look, field_names)
    parts += [f"<h3>{escape(t('ideas_per_field'))}</h3>", per_field]
    parts += [f"<h3>{escape(t('ideas_per_field_time'))}</h3>", over_time_figure(ideas, look, field_names, totals)]
    if ideas.proposed:
        parts += [f"<h3>{escape(t('kept'))}</h3>", kept_figure(ideas, look, field_names)]
    parts += [f"<h3>{escape(t('terms'))}</h3>", terms_section(ideas, look, field_names, totals), "</section>"]
    return "".join(parts)
