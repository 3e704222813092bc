"""Small-number suppression: no suppressed count can be worked out from what the report shows."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analytics.report.suppress import (
    Group,
    running_totals,
    suppress_independent,
    suppress_partition,
    suppress_value,
)

counts_lists = st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=5)
ks = st.integers(min_value=2, max_value=8)


def compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every way to write `total` as `parts` positive integers (what an attacker must consider)."""
    if parts == 0:
        if total == 0:
            yield ()
        return
    for first in range(1, total - parts + 2):
        for rest in compositions(total - first, parts - 1):
            yield (first, *rest)


def feasible(group: Group, running: list[int | None] | None = None) -> list[tuple[int, ...]]:
    """Values of the suppressed cells consistent with the shown cells, the total and shown running totals."""
    hidden = [i for i, cell in enumerate(group.cells) if cell.suppressed]
    shown_sum = sum(cell.count for cell in group.cells if not cell.suppressed)
    result = []
    for values in compositions(group.total.count - shown_sum, len(hidden)):
        full = [cell.count for cell in group.cells]
        for index, value in zip(hidden, values, strict=True):
            full[index] = value
        if running is not None and any(
            shown is not None and shown != group.total.count - sum(full[:i]) for i, shown in enumerate(running)
        ):
            continue
        result.append(values)
    return result


@settings(max_examples=400, deadline=None)
@given(counts_lists, ks)
def test_no_suppressed_cell_follows_from_the_shown_cells_and_the_total(counts: list[int], k: int) -> None:
    group = suppress_partition(counts, k)
    assert [cell.count for cell in group.cells] == counts
    for cell in group.cells:
        assert not (0 < cell.count < k) or cell.suppressed, "every small count is suppressed"
    if group.total.suppressed:
        assert all(cell.suppressed for cell in group.cells)
        return
    options = feasible(group)
    assert tuple(cell.count for cell in group.cells if cell.suppressed) in options
    for position in range(len(options[0]) if options else 0):
        assert len({values[position] for values in options}) >= 2, (counts, k, options)


@settings(max_examples=300, deadline=None)
@given(counts_lists, ks)
def test_running_totals_reveal_no_suppressed_cell(counts: list[int], k: int) -> None:
    group = suppress_partition(counts, k)
    running = running_totals(group, k)
    if group.total.suppressed:
        assert all(cell.suppressed for cell in running)
        return
    options = feasible(group, [cell.value for cell in running])
    for position in range(len(options[0]) if options else 0):
        assert len({values[position] for values in options}) >= 2, (counts, k, options)


def test_one_small_cell_takes_the_next_smallest_with_it() -> None:
    group = suppress_partition([26, 8, 3, 0], 5)
    assert [cell.value for cell in group.cells] == [26, None, None, 0]
    assert group.total.value == 37 and group.share(0) == 26 / 37 and group.share(1) is None


def test_two_small_cells_adding_up_to_less_than_k_take_a_third() -> None:
    group = suppress_partition([1, 2, 9, 30], 5)
    assert [cell.suppressed for cell in group.cells] == [True, True, True, False]


def test_a_group_below_k_is_suppressed_whole() -> None:
    group = suppress_partition([2, 0, 1], 5)
    assert all(cell.suppressed for cell in group.cells) and group.total.suppressed


def test_multiple_choice_counts_need_only_primary_suppression() -> None:
    group = suppress_independent([24, 6, 2], 26, 5)
    assert [cell.value for cell in group.cells] == [24, 6, None] and group.total.value == 26
    assert all(cell.suppressed for cell in suppress_independent([3, 1], 4, 5).cells)


def test_a_single_count_is_suppressed_below_k_but_zero_is_shown() -> None:
    assert suppress_value(4, 5).suppressed and not suppress_value(0, 5).suppressed
    assert suppress_value(5, 5).value == 5
