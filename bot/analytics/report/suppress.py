"""Small-number suppression for the report's tables (pure functions).

Every count shown in the report describes people, so a count of 1 … k-1 could point at someone. Two steps:

- *primary*: a cell with 0 < count < k is suppressed;
- *secondary*, for a group of cells that add up to a shown total (a partition: the options of a single-choice
  question, the days of a period, the fields of the ideas): total minus the shown cells gives the sum of the
  suppressed ones, so one suppressed cell alone — or several that add up to less than k — would be revealed.
  Then the next smallest shown non-zero cell is suppressed as well, until at least two non-zero cells are
  suppressed and they add up to at least k. A group whose total is below k is suppressed whole (total included).

Zero cells stay shown: suppressing them protects nobody (a suppressed cell is known to be non-zero anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    """A count as the report shows it: `value` is None when the cell is suppressed."""

    count: int
    suppressed: bool

    @property
    def value(self) -> int | None:
        return None if self.suppressed else self.count


@dataclass(frozen=True)
class Group:
    """The cells of one partition and its total (the total is suppressed only when the whole group is)."""

    cells: tuple[Cell, ...]
    total: Cell

    def share(self, index: int) -> float | None:
        """The share of cell `index` in the total, or None when either is suppressed (or the total is 0)."""
        cell = self.cells[index]
        if cell.suppressed or self.total.suppressed or self.total.count == 0:
            return None
        return cell.count / self.total.count


def primary(counts: Sequence[int], k: int) -> list[bool]:
    """Which counts are below k but above 0 (suppressed on their own)."""
    return [0 < count < k for count in counts]


def secondary(counts: Sequence[int], hidden: Sequence[bool], k: int) -> list[bool]:
    """Extend `hidden` so that the total minus the shown counts reveals none of the hidden ones.

    Adds the smallest shown non-zero counts until no hidden count is alone and the hidden ones sum to ≥ k and
    to more than their number (or every non-zero count is hidden).
    """
    result = list(hidden)
    while True:
        hidden_values = [count for count, off in zip(counts, result, strict=True) if off and count > 0]
        if not hidden_values:
            return result
        # Each hidden count is ≥ 1, so with n of them summing to s one is pinned down when s == n (all are 1).
        if len(hidden_values) >= 2 and sum(hidden_values) >= max(k, len(hidden_values) + 1):
            return result
        candidates = [i for i, count in enumerate(counts) if not result[i] and count > 0]
        if not candidates:
            return result
        result[min(candidates, key=lambda i: (counts[i], i))] = True


def suppress_partition(counts: Sequence[int], k: int) -> Group:
    """Suppress a partition: primary, then secondary; a total below k (or one whose suppressed cells cannot be
    made safe) suppresses the whole group."""
    total = sum(counts)
    if 0 < total < k:
        return Group(tuple(Cell(count, True) for count in counts), Cell(total, True))
    hidden = secondary(counts, primary(counts, k), k)
    if sum_reveals([count for count, off in zip(counts, hidden, strict=True) if off], k):
        # Even every non-zero cell together stays guessable (e.g. 1 + 1 with k = 2): hide the total as well.
        return Group(tuple(Cell(count, True) for count in counts), Cell(total, True))
    return Group(tuple(Cell(c, h) for c, h in zip(counts, hidden, strict=True)), Cell(total, False))


def suppress_independent(counts: Sequence[int], base: int, k: int) -> Group:
    """Suppress counts that do not add up to a total (multiple choice: several options per respondent).

    No count follows from the others, so primary suppression suffices; a base below k suppresses everything.
    """
    if 0 < base < k:
        return Group(tuple(Cell(count, True) for count in counts), Cell(base, True))
    return Group(tuple(Cell(c, h) for c, h in zip(counts, primary(counts, k), strict=True)), Cell(base, False))


def suppress_value(count: int, k: int) -> Cell:
    """A single count shown on its own (no group)."""
    return Cell(count, 0 < count < k)


def sum_reveals(hidden_counts: Sequence[int], k: int) -> bool:
    """Whether knowing only the sum of these suppressed counts would give one of them away (see `secondary`)."""
    nonzero = [count for count in hidden_counts if count > 0]
    return bool(nonzero) and not (len(nonzero) >= 2 and sum(nonzero) >= max(k, len(nonzero) + 1))


def running_totals(group: Group, k: int) -> list[Cell]:
    """The counts `total - cells[0] - … - cells[i-1]` (respondents still there at step i), suppressed where needed.

    Two shown running totals reveal the sum of the suppressed cells between them, and a shown one with the total
    reveals the suppressed sums before and after it; a running total is shown only when those sums are safe.
    """
    running = [group.total.count - sum(cell.count for cell in group.cells[:i]) for i in range(len(group.cells))]
    if group.total.suppressed:
        return [Cell(value, True) for value in running]
    result: list[Cell] = []
    boundary = 0
    for i, value in enumerate(running):
        before = [cell.count for cell in group.cells[boundary:i] if cell.suppressed]
        after = [cell.count for cell in group.cells[i:] if cell.suppressed]
        if sum_reveals(before, k) or sum_reveals(after, k):
            result.append(Cell(value, True))
        else:
            result.append(Cell(value, False))
            boundary = i
    return result
