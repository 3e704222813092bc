"""The codebook in long format: the same rows for the `.codebook.csv` beside a file and the XLSX "Codebook" sheet.

Rows, under the fixed header `CODEBOOK_COLUMNS`:

1. one row per variable, in column order (``follow_up`` and ``missing_codes`` as 1/0, ``versions`` joined with
   ``|``; ``code`` holds a multiple-choice option's numeric code where the table knows it), each followed by one
   row per value label (``variable``, ``question_id``, ``code``, ``code_label_de``, ``code_label_en``);
2. one row per cell status: ``variable`` = ``*status*``, ``option_id`` = the key CSV, XLSX and JSONL show,
   ``code`` = the numeric code of STATUS variables and of user-missing cells in `.sav`, and both labels;
3. one row per strategy field: ``variable`` = ``*field*``, ``code`` = the key, ``code_label_de/en`` = its names;
4. one row for the table: ``variable`` = ``*table*``, ``question_id`` = the survey key, ``label_de/en`` = the title,
   ``versions`` = every stored version;
5. one row per note: ``variable`` = ``*note*``, ``label_en`` = the note (the table's notes, then how empty cells
   are explained).
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.analytics.model import MISSING_RANGE, STATUS_CODES, STATUS_LABELS, CellValue, Codebook, Variable, VarKind

CODEBOOK_COLUMNS: tuple[str, ...] = (
    "variable",
    "question_id",
    "option_id",
    "kind",
    "type",
    "label_de",
    "label_en",
    "code",
    "code_label_de",
    "code_label_en",
    "versions",
    "follow_up",
    "field_key",
    "status_variable",
    "missing_codes",
)

EMPTY_CELL_NOTE = (
    "An empty cell has a reason: the question's status variable (kind 'status') holds answered, skipped, "
    "not_shown, not_reached, not_offered or not_asked (codes in the '*status*' rows). In .sav files, numeric answer "
    f"variables with missing_codes=1 carry that status code in empty cells, declared user-missing "
    f"({MISSING_RANGE[0]} to {MISSING_RANGE[1]})."
)

_WIDTH = len(CODEBOOK_COLUMNS)


def option_code(variable: Variable) -> int | None:
    """The numeric code of a multiple-choice option variable, if the table carries one (`Variable.option_code`)."""
    code = variable.option_code
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def codebook_rows(codebook: Codebook) -> Iterator[list[CellValue]]:
    """Every codebook row, aligned with `CODEBOOK_COLUMNS`."""
    for variable in codebook.variables:
        yield _row(
            variable=variable.name,
            question_id=variable.question_id,
            option_id=variable.option_id,
            kind=variable.kind.value,
            type=variable.type.value,
            label_de=variable.label_de,
            label_en=variable.label_en,
            code=option_code(variable) if variable.kind is VarKind.OPTION else None,
            versions=_versions(variable.versions),
            follow_up=int(variable.follow_up),
            field_key=variable.field_key,
            status_variable=variable.status_variable,
            missing_codes=int(variable.missing_codes),
        )
        for label in variable.value_labels:
            yield _row(
                variable=variable.name,
                question_id=variable.question_id,
                code=label.code,
                code_label_de=label.label_de,
                code_label_en=label.label_en,
            )
    for status, code in STATUS_CODES.items():
        german, english = STATUS_LABELS[status]
        yield _row(
            variable="*status*",
            option_id=status.value,
            kind="status",
            type="status",
            code=code,
            code_label_de=german,
            code_label_en=english,
        )
    for field in codebook.fields:
        yield _row(variable="*field*", code=field.key, code_label_de=field.name_de, code_label_en=field.name_en)
    yield _row(
        variable="*table*",
        question_id=codebook.survey,
        label_de=codebook.title_de,
        label_en=codebook.title_en,
        versions=_versions(codebook.versions),
    )
    for note in (*codebook.notes, EMPTY_CELL_NOTE):
        yield _row(variable="*note*", label_en=note)


def _versions(versions: tuple[int, ...]) -> str | None:
    return "|".join(str(version) for version in versions) or None


def _row(**cells: CellValue) -> list[CellValue]:
    row: list[CellValue] = [None] * _WIDTH
    for name, value in cells.items():
        row[CODEBOOK_COLUMNS.index(name)] = value
    return row
