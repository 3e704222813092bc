"""Cross-references inside a survey file, checked on the raw YAML data so every problem gets its exact field.

The schema stops at the first bad reference of a survey; staff fixing a file want all of them, each with its
line. These checks also catch what the schema cannot see: a condition testing a value the referenced question
can never have (`equals: busse` when the option id is `bus`) would silently never hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class RawProblem:
    loc: Loc
    message: str


def reference_problems(data: Any) -> list[RawProblem]:
    """Problems with question and follow-up ids, show_if/jump references and condition values; [] when the data
    is too malformed to tell (the schema reports that)."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        return []
    questions: list[Any] = data["questions"]
    positions: dict[str, int] = {}
    problems: list[RawProblem] = []
    for index, question in enumerate(questions):
        qid = question.get("id") if isinstance(question, dict) else None
        if not isinstance(qid, str):
            continue
        if qid == "end":
            problems.append(RawProblem(("questions", index, "id"), "'end' is reserved for jumps; choose another id"))
        if qid in positions:
            problems.append(
                RawProblem(
                    ("questions", index, "id"),
                    f"question id '{qid}' is already used by questions[{positions[qid]}]",
                )
            )
            continue
        positions[qid] = index
    for index, question in enumerate(questions):
        if not isinstance(question, dict):
            continue
        base: Loc = ("questions", index)
        own_id = question.get("id")
        show_if = question.get("show_if")
        if isinstance(show_if, dict):
            problems += _condition(questions, positions, show_if, (*base, "show_if"), index, own_allowed=False)
        jumps = question.get("jumps")
        if isinstance(jumps, list):
            for number, jump in enumerate(jumps):
                if not isinstance(jump, dict):
                    continue
                loc: Loc = (*base, "jumps", number)
                when = jump.get("when")
                if isinstance(when, dict):
                    problems += _condition(questions, positions, when, (*loc, "when"), index, own_allowed=True)
                target = jump.get("to")
                if isinstance(target, str) and target != "end":
                    if target not in positions:
                        problems.append(RawProblem((*loc, "to"), f"no question has the id '{target}'"))
                    elif positions[target] <= index:
                        problems.append(
                            RawProblem(
                                (*loc, "to"),
                                f"'{own_id}' may only jump forward; '{target}' comes before it",
                            )
                        )
        problems += _finite_bounds(question, base)
    follow_ups = data.get("follow_ups")
    if isinstance(follow_ups, list):
        problems += _follow_up_problems(questions, positions, follow_ups)
    return problems


def _finite_bounds(question: dict[str, Any], base: Loc) -> list[RawProblem]:
    problems: list[RawProblem] = []
    for bound in ("min", "max"):
        value = question.get(bound)
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(RawProblem((*base, bound), f"'{bound}' must be a finite number"))
    return problems


def _follow_up_problems(questions: list[Any], positions: dict[str, int], follow_ups: list[Any]) -> list[RawProblem]:
    """Follow-up ids share the questions' namespace (the answer is stored in the same response, under the id);
    their show_if may test any question of the survey, which is over when they are asked."""
    problems: list[RawProblem] = []
    seen: dict[str, int] = {}
    follow_up_ids = {f["id"] for f in follow_ups if isinstance(f, dict) and isinstance(f.get("id"), str)}
    for index, follow_up in enumerate(follow_ups):
        if not isinstance(follow_up, dict):
            continue
        base: Loc = ("follow_ups", index)
        fid = follow_up.get("id")
        if isinstance(fid, str):
            if fid == "end":
                problems.append(RawProblem((*base, "id"), "'end' is reserved for jumps; choose another id"))
            elif fid in positions:
                problems.append(RawProblem((*base, "id"), f"id '{fid}' is already used by questions[{positions[fid]}]"))
            elif fid in seen:
                problems.append(RawProblem((*base, "id"), f"id '{fid}' is already used by follow_ups[{seen[fid]}]"))
            else:
                seen[fid] = index
        show_if = follow_up.get("show_if")
        if isinstance(show_if, dict):
            ref = show_if.get("question")
            if isinstance(ref, str) and ref not in positions and ref in follow_up_ids:
                problems.append(
                    RawProblem(
                        (*base, "show_if", "question"),
                        f"'{ref}' is a follow-up; show_if can only test the survey's questions",
                    )
                )
            else:
                loc: Loc = (*base, "show_if")
                problems += _condition(questions, positions, show_if, loc, len(questions), own_allowed=False)
        question = follow_up.get("question")
        if isinstance(question, dict):
            problems += _finite_bounds(question, (*base, "question"))
    return problems


def _condition(
    questions: list[Any],
    positions: dict[str, int],
    condition: dict[str, Any],
    loc: Loc,
    index: int,
    *,
    own_allowed: bool,
) -> list[RawProblem]:
    ref = condition.get("question")
    if not isinstance(ref, str):
        return []
    if ref not in positions:
        return [RawProblem((*loc, "question"), f"no question has the id '{ref}'")]
    position = positions[ref]
    if position > index or (position == index and not own_allowed):
        what = "a jump" if own_allowed else "show_if"
        return [RawProblem((*loc, "question"), f"{what} can only test an earlier answer, and '{ref}' is not earlier")]
    target = questions[position]
    problems: list[RawProblem] = []
    if "equals" in condition and condition["equals"] is not None:
        problems += _value_fits(target, condition["equals"], (*loc, "equals"))
    if isinstance(condition.get("any_of"), list):
        for number, value in enumerate(condition["any_of"]):
            problems += _value_fits(target, value, (*loc, "any_of", number))
    return problems


def _value_fits(question: dict[str, Any], value: Any, loc: Loc) -> list[RawProblem]:
    """Whether `value` is an answer `question` can have (otherwise the condition could never hold)."""
    if isinstance(value, list | dict):
        return []  # the schema reports the wrong type itself
    kind = question.get("type")
    qid = question.get("id")
    if kind in ("single_choice", "multiple_choice"):
        options = question.get("options")
        ids = [o.get("id") for o in options if isinstance(o, dict)] if isinstance(options, list) else []
        if value not in ids or not isinstance(value, str):
            listed = ", ".join(str(i) for i in ids)
            return [RawProblem(loc, f"{value!r} is not an option id of question '{qid}' (options: {listed})")]
    elif kind == "yes_no":
        if not isinstance(value, bool):
            return [RawProblem(loc, f"question '{qid}' is yes/no: compare with true or false, not {value!r}")]
    elif kind == "scale":
        spec = question.get("scale")
        scale: dict[str, Any] = spec if isinstance(spec, dict) else {}
        low, high = scale.get("min", 1), scale.get("max", 5)
        if isinstance(value, bool) or not isinstance(value, int):
            return [RawProblem(loc, f"question '{qid}' is a scale: compare with a whole number, not {value!r}")]
        if isinstance(low, int) and isinstance(high, int) and not low <= value <= high:
            return [RawProblem(loc, f"{value} is outside the scale {low}..{high} of question '{qid}'")]
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [RawProblem(loc, f"question '{qid}' asks for a number: compare with a number, not {value!r}")]
    elif kind == "free_text" and not isinstance(value, str):
        return [RawProblem(loc, f"question '{qid}' is free text: compare with a text, not {value!r}")]
    return []
