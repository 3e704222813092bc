"""Charts as inline SVG (matplotlib, Agg backend): no network, no external references, scaled by the page.

Suppressed cells get no bar: their row shows a light hatched band across the whole axis (it implies no value)
and the word "unterdrückt"/"suppressed". Colours from the Okabe–Ito palette (safe for colour-blind readers).
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
BAR = PALETTE[0]
SUPPRESSED_FILL = "#f2f2f2"
SUPPRESSED_EDGE = "#9a9a9a"
WIDTH_INCHES = 4.4  # with 15 pt text, scaled to a phone's ~330 px of content width, text stays ≥ 11 px
FONT_SIZE = 15

_STYLE: Any = {
    "svg.fonttype": "none",  # text stays text: small files, selectable, rendered with the reader's fonts
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": FONT_SIZE,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "stadtdialog",
}

_ID = re.compile(r'\bid="([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_HREF = re.compile(r'(?:xlink:)?href="#([^"]+)"')


def _wrap(label: str, width: int = 15) -> str:
    return "\n".join(textwrap.wrap(label, width)[:3]) or label


def to_svg(figure: Figure, prefix: str) -> str:
    """The figure as an inline `<svg>` element: no XML header, metadata or namespaces, ids unique per chart."""
    buffer = io.StringIO()
    # Margins from one tight layout instead of bbox_inches="tight", which draws the whole figure twice.
    if not getattr(figure, "_stadtdialog_laid_out", False):
        figure.tight_layout(pad=0.2)
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = _ID.sub(lambda match: f'id="{prefix}-{match.group(1)}"', svg)
    svg = _URL_REF.sub(lambda match: f"url(#{prefix}-{match.group(1)})", svg)
    svg = _HREF.sub(lambda match: f'href="#{prefix}-{match.group(1)}"', svg)
    # Responsive: the viewBox keeps the proportions, the page's CSS sets the width.
    svg = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\sheight="[^"]*"', r'<svg\1 class="chart-svg"', svg, count=1)
    return svg.replace("<svg", '<svg focusable="false"', 1)


def _mark_suppressed(axes: Axes, position: float, label: str, horizontal: bool, size: float = 0.8) -> None:
    if horizontal:
        axes.axhspan(position - size / 2, position + size / 2, facecolor=SUPPRESSED_FILL, edgecolor=SUPPRESSED_EDGE,
                     hatch="///", linewidth=0.0, zorder=0)
        axes.text(0.01, position, label, transform=axes.get_yaxis_transform(), va="center", ha="left",
                  fontsize=FONT_SIZE - 1, style="italic", color="#444444")
    else:
        axes.axvspan(position - size / 2, position + size / 2, facecolor=SUPPRESSED_FILL, edgecolor=SUPPRESSED_EDGE,
                     hatch="///", linewidth=0.0, zorder=0)


def _all_suppressed(axes: Axes, text: str) -> None:
    """Say so across the plot when no value is shown (the axis keeps its plain 0.. scale)."""
    axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center", fontsize=FONT_SIZE,
              color="#444444", bbox={"facecolor": "white", "edgecolor": SUPPRESSED_EDGE, "boxstyle": "round"},
              zorder=4)


def bar_chart(
    labels: Sequence[str], values: Sequence[float | None], *, prefix: str, suppressed: str, percent: bool = False,
    axis_label: str = "", all_suppressed: str = "",
) -> str:
    """Horizontal bars, one per label; None marks a suppressed cell. `percent`: values are shares 0..1."""
    with rc_context(_STYLE):
        rows = len(labels)
        lines = sum(max(1, _wrap(label).count("\n") + 1) for label in labels)
        figure = Figure(figsize=(WIDTH_INCHES, 0.7 + 0.3 * lines + 0.22 * rows))
        axes = figure.subplots()
        positions = list(range(rows))
        shown = [value if value is not None else 0.0 for value in values]
        axes.barh(positions, shown, color=BAR, height=0.7, zorder=2)
        top = max((value for value in values if value is not None), default=0.0) or 1.0
        for position, value in zip(positions, values, strict=True):
            if value is None:
                _mark_suppressed(axes, position, suppressed, horizontal=True)
            else:
                text = f"{value:.0%}" if percent else f"{value:,.0f}".replace(",", "\u202f")
                axes.text(value + top * 0.02, position, text, va="center", fontsize=FONT_SIZE - 1, zorder=3)
        axes.set_yticks(positions, [_wrap(label) for label in labels])
        axes.invert_yaxis()
        axes.set_xlim(0, 1.3 if percent else top * 1.18)  # room for "100%" beside a full bar
        if percent:
            axes.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
        else:
            axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        axes.tick_params(axis="y", length=0)
        axes.set_xlabel(axis_label)
        axes.grid(axis="x", color="#dddddd", linewidth=0.8, zorder=1)
        axes.set_axisbelow(True)
        if values and all(value is None for value in values):
            _all_suppressed(axes, all_suppressed or suppressed)
        return to_svg(figure, prefix)


def _tick_positions(count: int, most: int = 8) -> list[int]:
    step = max(1, -(-count // most))
    return list(range(0, count, step))


def time_chart(
    periods: Sequence[str], values: Sequence[int | None], *, prefix: str, suppressed: str, axis_label: str = "",
    all_suppressed: str = "",
) -> str:
    """Vertical bars over time; None marks a suppressed period (hatched column, no bar)."""
    with rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH_INCHES, 3.4))
        axes = figure.subplots()
        positions = list(range(len(periods)))
        axes.bar(positions, [value or 0 for value in values], color=BAR, width=0.8, zorder=2)
        for position, value in zip(positions, values, strict=True):
            if value is None:
                _mark_suppressed(axes, position, suppressed, horizontal=False)
        ticks = _tick_positions(len(periods))
        axes.set_xticks(ticks, [periods[i] for i in ticks], rotation=45, ha="right")
        axes.set_ylabel(axis_label)
        top = max([1, *(value or 0 for value in values)])  # never a negative axis, also when all is suppressed
        axes.set_ylim(0, top * 1.1)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="y", color="#dddddd", linewidth=0.8, zorder=1)
        if any(value is None for value in values):
            axes.text(1.0, 1.02, f"/// = {suppressed}", transform=axes.transAxes, ha="right", fontsize=FONT_SIZE - 2,
                      color="#444444")
        if values and all(value is None for value in values):
            _all_suppressed(axes, all_suppressed or suppressed)
        return to_svg(figure, prefix)


def small_multiples(
    rows: Sequence[str], periods: Sequence[str], matrix: Sequence[Sequence[int | None]], *, prefix: str,
    suppressed: str, all_suppressed: str = "",
) -> str:
    """One small bar chart per row (strategy field) over the same periods, sharing both axes."""
    with rc_context(_STYLE):
        count = max(len(rows), 1)
        figure = Figure(figsize=(WIDTH_INCHES, 0.8 + 1.3 * count))
        axes_list = figure.subplots(count, 1, sharex=True, sharey=True, squeeze=False)
        positions = list(range(len(periods)))
        top = max([1, *(value or 0 for values in matrix for value in values)])  # the axes share one scale
        for index, (name, values) in enumerate(zip(rows, matrix, strict=True)):
            axes = axes_list[index][0]
            colour = PALETTE[index % (len(PALETTE) - 1)]
            axes.bar(positions, [value or 0 for value in values], color=colour, width=0.8, zorder=2)
            for position, value in zip(positions, values, strict=True):
                if value is None:
                    _mark_suppressed(axes, position, suppressed, horizontal=False)
            axes.set_title(name, loc="left", fontsize=FONT_SIZE, pad=3)
            axes.set_ylim(0, top * 1.15)
            axes.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
            axes.grid(axis="y", color="#dddddd", linewidth=0.8, zorder=1)
            if values and all(value is None for value in values):
                _all_suppressed(axes, all_suppressed or suppressed)
        ticks = _tick_positions(len(periods))
        bottom = axes_list[-1][0]
        bottom.set_xticks(ticks, [periods[i] for i in ticks], rotation=45, ha="right")
        if any(value is None for values in matrix for value in values):
            axes_list[0][0].text(1.0, 1.08, f"/// = {suppressed}", transform=axes_list[0][0].transAxes, ha="right",
                                 fontsize=FONT_SIZE - 2, color="#444444")
        figure.tight_layout(pad=0.2, h_pad=0.6)
        figure._stadtdialog_laid_out = True  # type: ignore[attr-defined]
        return to_svg(figure, prefix)
