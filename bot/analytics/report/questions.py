"""The survey sections: one chart and numbers table per question, the completion funnel, responses over time."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import date
from html import escape

from surveys.schema import QuestionType

from . import charts, periods
from .data import NO_FIELD, FollowUpStats, QuestionStats, SurveyStats
from .markup import Look, figure, row, table
from .suppress import Cell, Group, running_totals, suppress_independent, suppress_partition

MAX_BINS = 8


def slug(text: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "-" for char in text)


def _partition_figure(
    chart_id: str, title: str, keys: Sequence[str], labels: Sequence[str], counts: Sequence[int], look: Look,
    notes: Sequence[str] = (),
) -> str:
    """Chart + table of a partition (cells add up to the total): counts, shares of the total, suppression."""
    t = look.texts
    group = suppress_partition(counts, look.k)
    rows = [
        row(key, label, look.cell(cell), look.share_cell(group.share(i)))
        for i, (key, label, cell) in enumerate(zip(keys, labels, group.cells, strict=True))
    ]
    foot = [row("total", t("total"), look.cell(group.total), look.share_cell(None if group.total.suppressed else 1.0))]
    svg = charts.bar_chart(labels, [cell.value for cell in group.cells], prefix=chart_id, suppressed=t("suppressed"),
                           all_suppressed=t("all_suppressed"),
                           axis_label=t("count"))
    body = table(f"table-{chart_id}", t("table_of", title=title), [t("answer"), t("count"), t("share")], rows, foot)
    return figure(chart_id, title, svg, body, t, notes)


def _multiple_figure(
    chart_id: str, title: str, stats: QuestionStats, look: Look, notes: Sequence[str] = ()
) -> str:
    t = look.texts
    keys = [option_id for option_id, _ in stats.options]
    labels = [text.get(t.lang) for _, text in stats.options]
    group = suppress_independent([stats.counts[key] for key in keys], stats.answered, look.k)
    rows = [
        row(key, label, look.cell(cell), look.share_cell(group.share(i)))
        for i, (key, label, cell) in enumerate(zip(keys, labels, group.cells, strict=True))
    ]
    foot = [row("respondents", t("respondents_answered"), look.cell(group.total), look.share_cell(None))]
    shares = [group.share(i) for i in range(len(keys))]
    svg = charts.bar_chart(labels, shares, prefix=chart_id, suppressed=t("suppressed"),
                           all_suppressed=t("all_suppressed"), percent=True,
                           axis_label=t("share_of_respondents"))
    headers = [t("answer"), t("count"), t("share_of_respondents")]
    body = table(f"table-{chart_id}", t("table_of", title=title), headers, rows, foot)
    return figure(chart_id, title, svg, body, t, [*notes, t("multiple_note")])


def _mean_median(values: Sequence[float], look: Look) -> list[str]:
    if len(values) < look.k:
        return [look.texts("stats_hidden", k=look.k)]
    t = look.texts
    mean, median = look.number(statistics.fmean(values)), look.number(statistics.median(values))
    return [f"{t('mean')}: {mean} · {t('median')}: {median}"]


def _number_bins(values: Sequence[float], integer: bool, k: int) -> list[tuple[float, float]]:
    """Up to MAX_BINS equal-width ranges covering the values (whole-number edges for integer questions)."""
    low, high = min(values), max(values)
    if high == low:
        return [(low, high + 1)]
    # Few values in many bins would suppress them all: aim at about 2k values per bin.
    width = (high - low) / max(1, min(MAX_BINS, len(values) // (2 * k)))
    if integer:
        width = max(1.0, math.ceil(width))
        low = math.floor(low / width) * width  # edges on multiples of the width, not at the smallest value
    else:
        magnitude = 10 ** math.floor(math.log10(width))
        width = next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= width)
        low = math.floor(low / width) * width
    edges: list[tuple[float, float]] = []
    start = low
    while start <= high:
        edges.append((start, start + width))
        start += width
    return edges


def _number_figure(
    chart_id: str, title: str, stats: QuestionStats, look: Look, extra: Sequence[tuple[str, str, int]] = (),
    notes: Sequence[str] = (),
) -> str:
    t = look.texts
    integer = stats.question.integer
    keys: list[str] = []
    labels: list[str] = []
    counts: list[int] = []
    if 0 < len(stats.numbers) < look.k:
        # Range labels would show the few values themselves (the edges follow the data): one cell only.
        keys.append("answered")
        labels.append(t("answered"))
        counts.append(len(stats.numbers))
    elif stats.numbers:
        bins = _number_bins(stats.numbers, integer, look.k)
        binned: Counter[int] = Counter()
        for value in stats.numbers:
            index = next((i for i, (lo, hi) in enumerate(bins) if lo <= value < hi), len(bins) - 1)
            binned[index] += 1
        for i, (lo, hi) in enumerate(bins):
            keys.append(f"bin-{i}")
            if integer:
                top = hi - 1
                labels.append(look.number(lo) if top <= lo else f"{look.number(lo)} – {look.number(top)}")
            else:
                labels.append(f"{look.number(lo)} – < {look.number(hi)}")
            counts.append(binned[i])
    keys.append("skipped")
    labels.append(t("skipped"))
    counts.append(stats.skipped)
    for key, label, count in extra:
        keys.append(key)
        labels.append(label)
        counts.append(count)
    return _partition_figure(chart_id, title, keys, labels, counts, look, [*notes, *_mean_median(stats.numbers, look)])


def question_figure(
    survey: SurveyStats, number: int, stats: QuestionStats, look: Look, field_names: dict[str, str],
    follow_up: FollowUpStats | None = None,
) -> str:
    """The chart and table of one question, by its type.

    For a follow-up question the base is the citizens it was asked (a partition cell "not answered" added) and
    the title and a note say it was asked days after the survey."""
    t = look.texts
    chart_id = f"question-{slug(survey.key)}-{slug(stats.id)}"
    lead: list[str] = []
    extra: list[tuple[str, str, int]] = []
    if follow_up is None:
        title = f"{t('question_n', n=number)}: {stats.text.get(t.lang)}"
    else:
        days = follow_up.after_days
        title = f"{t('follow_up_n', n=number, days=days)}: {stats.text.get(t.lang)}"
        lead = [t("follow_up_note", days=days, asked=look.int(follow_up.asked))]
        extra = [("unanswered", t("follow_up_unanswered"), follow_up.unanswered)]
    kind = stats.type
    if kind is QuestionType.MULTIPLE_CHOICE:
        return _multiple_figure(chart_id, title, stats, look, lead)
    if kind is QuestionType.NUMBER:
        return _number_figure(chart_id, title, stats, look, extra, lead)
    notes: list[str] = list(lead)
    if kind is QuestionType.SINGLE_CHOICE:
        keys = [option_id for option_id, _ in stats.options]
        labels = [text.get(t.lang) for _, text in stats.options]
    elif kind is QuestionType.YES_NO:
        keys, labels = ["yes", "no"], [t("answer_yes"), t("answer_no")]
    elif kind is QuestionType.SCALE:
        spec = stats.question.scale_spec
        keys = [str(point) for point in range(spec.min, spec.max + 1)]
        labels = [f"{point} – {spec.labels[point].get(t.lang)}" if point in spec.labels else str(point)
                  for point in range(spec.min, spec.max + 1)]
        notes += _mean_median(stats.numbers, look)
    else:
        keys = [*field_names, NO_FIELD]
        labels = [*field_names.values(), t("no_field")]
        notes.append(t("free_text_note"))
    counts = [stats.counts[key] for key in keys]
    keys, labels, counts = [*keys, "skipped"], [*labels, t("skipped")], [*counts, stats.skipped]
    keys, labels, counts = keys + [e[0] for e in extra], labels + [e[1] for e in extra], counts + [e[2] for e in extra]
    return _partition_figure(chart_id, title, [k or "none" for k in keys], labels, counts, look, notes)


def funnel_figure(survey: SurveyStats, look: Look) -> str:
    """Respondents reaching each question and stopping there, with completed responses as the last cell."""
    t = look.texts
    chart_id = f"funnel-{slug(survey.key)}"
    questions = survey.questions
    counts = [survey.dropped[q.id] for q in questions] + [survey.completed]
    counts.append(survey.responses - sum(counts))  # unfinished beyond the last question (rare: all answered)
    group = suppress_partition(counts, look.k)
    reached = running_totals(Group(group.cells[: len(questions)], group.total), look.k)
    labels = [t("question_n", n=i + 1) for i in range(len(questions))]
    rows = [
        row(q.id, f"{label}: {q.text.get(t.lang)}", look.cell(reach, key="reached"), look.cell(drop, key="dropped"))
        for q, label, reach, drop in zip(questions, labels, reached, group.cells[: len(questions)], strict=True)
    ]
    completed = group.cells[len(questions)]
    rows.append(row("completed", t("completed_row"), look.cell(completed, key="reached"), "<td></td>"))
    # Unfinished without an open question on their route (not expected, but counted honestly); always listed, as a
    # row shown only when non-zero would tell that there is at least one such response.
    rows.append(row("other", t("dropped_other"), "<td></td>", look.cell(group.cells[-1], key="dropped")))
    foot = [row("started", t("started_row"), look.cell(group.total, key="reached"), "<td></td>")]
    svg = charts.bar_chart([t("started_row"), *labels, t("completed_row")],
                           [group.total.value, *(cell.value for cell in reached), group.cells[len(questions)].value],
                           prefix=chart_id, suppressed=t("suppressed"),
                           all_suppressed=t("all_suppressed"), axis_label=t("reached"))
    body = table(f"table-{chart_id}", t("table_of", title=t("funnel")), ["", t("reached"), t("dropped")], rows, foot)
    return figure(chart_id, f"{t('funnel')}: {t('funnel_caption')}", svg, body, t)


def time_figure(chart_id: str, title: str, per_day: Counter[date], look: Look) -> str:
    """Counts per day or week as a partition of the total."""
    t = look.texts
    unit = periods.unit_for(per_day, look.k)
    grouped = periods.regroup(per_day, unit)
    starts = periods.buckets(per_day, unit)
    group = suppress_partition([grouped[start] for start in starts], look.k)
    labels = [periods.label(start, t.lang) for start in starts]
    rows = [row(start.isoformat(), label, look.cell(cell)) for start, label, cell in zip(starts, labels, group.cells,
                                                                                      strict=True)]
    foot = [row("total", t("total"), look.cell(group.total))]
    svg = charts.time_chart(labels, [cell.value for cell in group.cells], prefix=chart_id, suppressed=t("suppressed"),
                            all_suppressed=t("all_suppressed"),
                            axis_label=t("count"))
    header = t("day") if unit == "day" else t("week")
    body = table(f"table-{chart_id}", t("table_of", title=title), [header.capitalize(), t("count")], rows, foot)
    return figure(chart_id, f"{title} ({t('over_time_caption', unit=header)})", svg, body, t)


def survey_section(survey: SurveyStats, look: Look, field_names: dict[str, str]) -> str:
    t = look.texts
    anchor = f"survey-{slug(survey.key)}"
    versions = ", ".join(str(v) for v in survey.versions)
    parts = [
        f'<section id="{anchor}" data-survey="{escape(survey.key)}">',
        f"<h2>{escape(t('survey'))}: {escape(survey.title.get(t.lang))}</h2>",
        f'<p class="note">{escape(survey.key)} · {escape(t("versions"))}: {escape(versions)} · '
        f"N = {look.int(survey.responses)}</p>",
    ]
    if not survey.responses:
        parts.append(f"<p>{escape(t('no_data'))}</p></section>")
        return "".join(parts)
    parts.append(f"<h3>{escape(t('questions'))}</h3>")
    parts += [question_figure(survey, i + 1, q, look, field_names) for i, q in enumerate(survey.questions)]
    if survey.follow_ups:
        parts.append(f"<h3>{escape(t('follow_ups'))}</h3>")
        parts += [question_figure(survey, i + 1, f.stats, look, field_names, f)
                  for i, f in enumerate(survey.follow_ups)]
    parts.append(f"<h3>{escape(t('funnel'))}</h3>")
    parts.append(funnel_figure(survey, look))
    parts.append(f"<h3>{escape(t('over_time'))}</h3>")
    parts.append(time_figure(f"over-time-{slug(survey.key)}", t("over_time"), survey.per_day, look))
    parts.append("</section>")
    return "".join(parts)


__all__ = ["Cell", "survey_section"]
