"""Survey files → validated `Survey`, with every problem named by file, line and field.

Staff edit these files by hand, so the loader reports all problems at once in their words
(`mobilitaet.yaml:23: questions[2].options[1].id: ...`) and never lets a YAML or pydantic exception escape.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from surveys.references import reference_problems
from surveys.schema import FollowUp, Question, Survey

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
"""Anchors and aliases can make a small file expand enormously; real surveys have a few thousand nodes."""

_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a survey file. `line` is 1-based; `field` a path like `questions[2].options[1].id`."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SurveyError(Exception):
    """A survey file that cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


# --------------------------------------------------------------------------------------------------- public API


def load_survey(path: Path) -> Survey:
    """Read and validate one survey file; raises SurveyError listing all problems."""
    survey, problems, _ = _load_path(path)
    if survey is None:
        raise SurveyError(problems)
    return survey


def load_survey_text(text: str, filename: str) -> Survey:
    """Validate survey YAML given as text; `filename` only names the file in problems."""
    survey, problems, _ = _parse(text, filename)
    if survey is None:
        raise SurveyError(problems)
    return survey


def validate_file(path: Path) -> list[Problem]:
    """All problems of a survey file (empty when it is valid)."""
    return _load_path(path)[1]


def content_hash(survey: Survey) -> str:
    """sha256 of the validated survey's canonical JSON: layout, comments and key order of the file do not count."""
    # A survey without follow-ups keeps the fingerprint it had before follow-ups existed (no spurious new version).
    data = survey.model_dump(mode="json", exclude={"follow_ups"} if not survey.follow_ups else None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_directory(directory: Path) -> tuple[list[tuple[Path, Survey]], list[Problem]]:
    """Every *.yaml/*.yml survey in `directory` (sorted by name) and the problems of those that failed.

    Two files with the same survey id are a problem: the second one is not loaded.
    """
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    except OSError as error:
        return [], [Problem(str(directory), None, "", f"cannot read the folder: {error.strerror or error}")]
    loaded: list[tuple[Path, Survey]] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for file in files:
        survey, file_problems, root = _load_path(file)
        problems += file_problems
        if survey is None:
            continue
        if survey.id in seen:
            line = _line_of(root, ("id",)) if root is not None else None
            problems.append(
                Problem(file.name, line, "id", f"survey id '{survey.id}' is also used by {seen[survey.id].name}")
            )
            continue
        seen[survey.id] = file
        loaded.append((file, survey))
    return loaded, problems


# --------------------------------------------------------------------------------------------------- reading


def _load_path(path: Path) -> tuple[Survey | None, list[Problem], yaml.Node | None]:
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Problem(name, None, "", f"file is too large ({size} bytes, at most {MAX_FILE_BYTES})")], None
        data = path.read_bytes()
    except OSError as error:
        return None, [Problem(name, None, "", f"cannot read the file: {error.strerror or error}")], None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return None, [Problem(name, line, "", "file is not UTF-8 text; save it as UTF-8")], None
    return _parse(text, name)


def _parse(text: str, filename: str) -> tuple[Survey | None, list[Problem], yaml.Node | None]:
    def fail(line: int | None, message: str) -> tuple[None, list[Problem], None]:
        return None, [Problem(filename, line, "", message)], None

    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return fail(None, f"file is too large (at most {MAX_FILE_BYTES} bytes)")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = " ".join(str(part) for part in (error.context, error.problem) if part)
        return fail(mark.line + 1 if mark else None, f"YAML syntax error: {reason or error}")
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1 if isinstance(error.position, int) else None
        return fail(line, f"the file contains a character YAML does not allow ({error.reason})")
    except yaml.YAMLError as error:
        return fail(None, f"YAML syntax error: {error}")
    except RecursionError:
        return fail(None, "the YAML is nested too deeply")
    if root is None:
        return fail(None, "file is empty")
    if not isinstance(root, yaml.MappingNode):
        return fail(root.start_mark.line + 1, "the top level must be a mapping of keys (id:, title:, questions:, ...)")
    size = _expanded_size(root)
    if size is None:
        return fail(None, "an alias refers to itself (recursive anchor)")
    if size > MAX_NODES:
        return fail(None, f"the file expands to more than {MAX_NODES} values (too many aliases)")
    problems = [Problem(filename, line, field, message) for line, field, message in _duplicate_keys(root)]
    constructor = yaml.SafeLoader("")
    try:
        data = constructor.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        return fail(mark.line + 1 if mark else None, f"YAML error: {error.problem or error}")
    except Exception as error:  # YAML's scalar constructors raise assorted errors ("2021-13-45", huge ints)
        return fail(None, f"YAML value cannot be read: {error}")
    finally:
        constructor.dispose()

    raw = reference_problems(data)
    problems += [Problem(filename, _line_of(root, p.loc), _field(p.loc), p.message) for p in raw]
    try:
        survey: Survey | None = Survey.model_validate(data)
    except ValidationError as error:
        survey = None
        problems += _validation_problems(error, root, filename, skip_root_errors=bool(raw))
    if survey is not None and problems:
        survey = None
    if survey is None and not problems:
        problems.append(Problem(filename, None, "", "the survey is not valid"))
    problems.sort(key=lambda p: (p.line if p.line is not None else 0, p.field, p.message))
    return survey, _unique(problems), root


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


# --------------------------------------------------------------------------------------------------- node tree


def _expanded_size(root: yaml.Node) -> int | None:
    """Number of values after alias expansion; None for a cycle."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            sizes[key] = min(1 + sum(sizes[id(child)] for child in children), MAX_NODES + 1)
            continue
        if key in sizes:
            continue
        if key in active:
            return None
        active.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in active:
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _duplicate_keys(root: yaml.Node) -> list[tuple[int, str, str]]:
    """(line, field, message) for every key given twice in one mapping — YAML silently keeps the last one."""
    found: list[tuple[int, str, str]] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    ident = (key_node.tag, key_node.value)
                    if ident in keys:
                        found.append(
                            (
                                key_node.start_mark.line + 1,
                                _field((*loc, key_node.value)),
                                f"key '{key_node.value}' appears twice in this block (first on line {keys[ident]})",
                            )
                        )
                    else:
                        keys[ident] = key_node.start_mark.line + 1
                    stack.append((value_node, (*loc, key_node.value)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, (*loc, index)) for index, child in enumerate(node.value))
    return found


def _resolve(root: yaml.Node, loc: Sequence[str | int]) -> tuple[yaml.Node, int, bool]:
    """The deepest node along `loc`, how many loc parts it consumed, and whether it is the key of the last part."""
    node = root
    for depth, part in enumerate(loc):
        if part == "[key]":
            return node, depth + 1, True
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    if depth + 1 < len(loc) and loc[depth + 1] == "[key]":
                        return key_node, depth + 2, True
                    child = value_node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            return node, depth, False
        node = child
    return node, len(loc), False


def _line_of(root: yaml.Node, loc: Sequence[str | int]) -> int:
    """Line of the value at `loc`, or of its nearest parent that exists in the file."""
    return _resolve(root, loc)[0].start_mark.line + 1


def _field(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            text += f".{part}" if text else str(part)
    return text


# --------------------------------------------------------------------------------------------------- pydantic errors


def _validation_problems(
    error: ValidationError, root: yaml.Node, filename: str, *, skip_root_errors: bool
) -> list[Problem]:
    """Pydantic errors → problems; the schema's whole-survey reference errors are dropped when the loader's own
    reference check (which names the exact field) already reported them."""
    problems: list[Problem] = []
    union_types: dict[tuple[int, str], tuple[list[str], Any]] = {}
    for detail in error.errors(include_url=False):
        loc = [part for part in detail["loc"]]
        if not loc and skip_root_errors:
            continue
        _, used, _ = _resolve(root, loc)
        # Union members add their type name to loc ("equals.str"); keep the path staff wrote in the file.
        tags = [part for part in loc[used:] if isinstance(part, str) and _is_type_tag(part)]
        clean = [part for part in loc if not (isinstance(part, str) and _is_type_tag(part))]
        line = _line_of(root, clean)
        field = _field(clean)
        if tags:
            wanted, _ = union_types.setdefault((line, field), ([], detail.get("input")))
            wanted.append(tags[0])
            continue
        problems.append(Problem(filename, line, field, _message(detail, clean)))
    for (line, field), (wanted, value) in union_types.items():
        kinds_given = {tag.split("[")[0] for tag in wanted}
        if "float" in kinds_given:
            kinds_given.discard("int")  # "a number" already covers whole numbers
        kinds = [_TYPE_NAMES[tag] for tag in _TYPE_NAMES if tag in kinds_given]
        problems.append(Problem(filename, line, field, f"{value!r} has the wrong type: expected {' or '.join(kinds)}"))
    return problems


_TYPE_NAMES = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true/false",
    "list": "a list",
    "dict": "a mapping",
    "none": "nothing",
}


def _is_type_tag(part: str) -> bool:
    return part.split("[")[0] in _UNION_TAGS


_KNOWN_KEYS = {
    "survey": list(Survey.model_fields),
    "question": list(Question.model_fields),
    "follow_up": list(FollowUp.model_fields),
    "other": ["de", "en", "text", "question", "equals", "any_of", "answered", "when", "to", "labels"],
}


def _message(detail: ErrorDetails, loc: Sequence[str | int]) -> str:
    kind = detail["type"]
    value = detail.get("input")
    last = loc[-1] if loc else ""
    if kind == "missing":
        return "is missing (required)"
    if kind == "extra_forbidden":
        candidates = _KNOWN_KEYS[_block_kind(loc)]
        close = difflib.get_close_matches(str(last), candidates, n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        return f"unknown key '{last}'{hint}"
    if kind == "string_pattern_mismatch" and last == "id":
        return (
            f"'{value}' is not a valid id: 1–24 characters, lowercase a–z, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    if kind == "string_type" and isinstance(value, bool | int | float):
        return f"expected text, got {value!r} — YAML reads yes/no/on/off and numbers specially; put it in quotes"
    if last == "after_days" and kind in ("int_type", "greater_than_equal", "less_than_equal"):
        return f"{value!r} is not a number of days: write a whole number from 1 to 365"
    if kind == "enum":
        expected = detail.get("ctx", {}).get("expected", "")
        return f"'{value}' is not a question type; use one of {expected}"
    message = detail["msg"]
    return message.removeprefix("Value error, ")


def _block_kind(loc: Sequence[str | int]) -> str:
    """Which kind of block an unknown key at `loc` was written in, for the did-you-mean hint."""
    if len(loc) == 1:
        return "survey"
    if len(loc) == 3 and loc[0] == "questions":
        return "question"
    if len(loc) == 3 and loc[0] == "follow_ups":
        return "follow_up"
    if len(loc) == 4 and loc[0] == "follow_ups" and loc[2] == "question":
        return "question"
    return "other"
