"""The export tables: a `Codebook` plus a lazily built stream of rows, for responses, ideas and follow-ups.

Writers turn these into files; nothing here knows a format. Rows are produced one at a time from the query
iterators, so a table of 50,000 responses never sits in memory. Column order of a response table is stable across
survey versions: questions by first appearance (version ascending, file position), matched by id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from bot.analytics.model import (
    STATUS_LABELS,
    CellValue,
    Codebook,
    FieldName,
    Row,
    Status,
    ValueLabel,
    Variable,
    VarKind,
    VarType,
)
from bot.analytics.names import variable_name
from bot.analytics.pseudonyms import export_pseudonym, idea_pseudonym, response_pseudonym
from bot.analytics.query import FollowUpRecord, IdeaRecord, ResponseRecord, StoredAnswer
from bot.analytics.status import follow_up_status, question_statuses
from bot.staffdesk.idea_status import STATUS_LABELS as IDEA_STATUS_NAMES
from handlers.events import FieldInfo
from nlp.redact import redact
from surveys.codes import option_codes
from surveys.schema import AnswerValue, LocalText, Question, QuestionType, Survey

SCORE_DECIMALS = 4
COMPLETED_LABELS = (ValueLabel(1, "beendet", "completed"), ValueLabel(0, "nicht beendet", "not completed"))
YES_NO_LABELS = (ValueLabel(1, "ja", "yes"), ValueLabel(0, "nein", "no"))
CHOSEN_LABELS = (ValueLabel(1, "gewählt", "chosen"), ValueLabel(0, "nicht gewählt", "not chosen"))
IDEA_STATUS_LABELS = tuple(ValueLabel(code, de, en) for code, (de, en) in IDEA_STATUS_NAMES.items())
"""The ideas' `status` codes with their German and English names."""
STATUS_VALUE_LABELS = tuple(ValueLabel(status.value, de, en) for status, (de, en) in STATUS_LABELS.items())

_Cells = Callable[[StoredAnswer | None, Question | None], list[CellValue]]


def field_names(infos: Iterable[FieldInfo]) -> tuple[FieldName, ...]:
    """The strategy fields as the codebook names them (from `bot.app.field_infos()`)."""
    return tuple(FieldName(info.key, info.label("de"), info.label("en")) for info in infos)


def _en(text: LocalText) -> str:
    return text.get("en")


def _meta(taken: set[str], name: str, vtype: VarType, de: str, en: str, width: int = 12,
          labels: tuple[ValueLabel, ...] = ()) -> Variable:
    return Variable(variable_name(name, taken), VarKind.META, vtype, de, en, value_labels=labels, width=width)


# --------------------------------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class _Column:
    """One question (or follow-up) of the response table: its variables and how to fill them."""

    question_id: str
    variables: tuple[Variable, ...]  # value variables, then the status variable
    cells: _Cells  # the value cells for an answered question (the status cell is added by the row builder)
    follow_up: bool

    @property
    def width(self) -> int:
        return len(self.variables) - 1


def _question_variables(
    question: Question, versions: tuple[int, ...], all_options: Sequence[tuple[str, LocalText]],
    codes: dict[str, int], fields: Sequence[FieldName], taken: set[str], follow_up: bool,
) -> tuple[tuple[Variable, ...], _Cells]:
    qid, qtype, text = question.id, question.type, question.text
    status_name_wanted = f"{qid}_status"

    def var(name: str, kind: VarKind, vtype: VarType, de: str, en: str, *, option_id: str | None = None,
            option_code: int | None = None, value_labels: tuple[ValueLabel, ...] = (), field_key: str | None = None,
            missing_codes: bool = False, width: int = 12) -> Variable:
        return Variable(
            variable_name(name, taken), kind, vtype, de, en, question_id=qid, option_id=option_id,
            option_code=option_code, question_type=qtype.value, value_labels=value_labels, versions=versions,
            follow_up=follow_up, field_key=field_key, missing_codes=missing_codes, width=width,
        )

    values: list[Variable] = []
    cells: _Cells
    if qtype is QuestionType.MULTIPLE_CHOICE:
        option_ids = [option_id for option_id, _ in all_options]
        for option_id, label in all_options:
            values.append(var(f"{qid}_{option_id}", VarKind.OPTION, VarType.INTEGER, f"{text.de}: {label.de}",
                              f"{_en(text)}: {_en(label)}", option_id=option_id, option_code=codes[option_id],
                              value_labels=CHOSEN_LABELS,
                              missing_codes=True, width=8))

        def cells(answer: StoredAnswer | None, asked: Question | None) -> list[CellValue]:
            chosen = answer.value if answer is not None and isinstance(answer.value, list) else []
            return [1 if option_id in chosen else 0 for option_id in option_ids]
    elif qtype is QuestionType.SINGLE_CHOICE:
        labels = tuple(ValueLabel(codes[option_id], label.de, _en(label)) for option_id, label in all_options)
        values.append(var(qid, VarKind.VALUE, VarType.INTEGER, text.de, _en(text),
                          value_labels=tuple(sorted(labels, key=lambda v: int(v.code))), missing_codes=True))

        def cells(answer: StoredAnswer | None, asked: Question | None) -> list[CellValue]:
            value = None if answer is None else answer.value
            return [codes.get(value) if isinstance(value, str) else None]
    elif qtype is QuestionType.YES_NO:
        values.append(var(qid, VarKind.VALUE, VarType.INTEGER, text.de, _en(text), value_labels=YES_NO_LABELS,
                          missing_codes=True, width=8))

        def cells(answer: StoredAnswer | None, asked: Question | None) -> list[CellValue]:
            value = None if answer is None else answer.value
            return [int(value) if isinstance(value, bool) else None]
    elif qtype is QuestionType.SCALE:
        spec = question.scale_spec
        labels = tuple(ValueLabel(point, label.de, _en(label)) for point, label in sorted(spec.labels.items()))
        values.append(var(qid, VarKind.VALUE, VarType.INTEGER, text.de, _en(text), value_labels=labels,
                          missing_codes=True, width=8))

        def cells(answer: StoredAnswer | None, asked: Question | None) -> list[CellValue]:
            value = None if answer is None else answer.value
            return [_whole(value)]
    elif qtype is QuestionType.NUMBER:
        integer = question.integer
        safe = question.min is not None and question.min > -91
        values.append(var(qid, VarKind.VALUE, VarType.INTEGER if integer else VarType.NUMBER, text.de, _en(text),
                          missing_codes=safe))

        def cells(answer: StoredAnswer | None, asked: Question | None) -> list[CellValue]:
            value = None if answer is None else answer.value
            if not isinstance(value, int | float) or isinstance(value, bool):
                return [None]
            return [_whole(value) if integer and float(value).is_integer() else value]
    else:  # free text
        values.append(var(qid, VarKind.VALUE, VarType.TEXT, text.de, _en(text), width=40))
        field_labels = tuple(ValueLabel(f.key, f.name_de, f.name_en) for f in fields)
        values.append(var(f"{qid}_field", VarKind.FIELD, VarType.TEXT, f"Strategiefeld (Klassifikator): {text.de}",
                          f"Strategy field (classifier): {_en(text)}", value_labels=field_labels, width=14))
        for f in fields:
            values.append(var(f"{qid}_score_{f.key}", VarKind.SCORE, VarType.NUMBER,
                              f"Score {f.name_de}: {text.de}", f"Score {f.name_en}: {_en(text)}",
                              field_key=f.key, width=8))
        field_keys = [f.key for f in fields]

        def cells(answer: StoredAnswer | None, asked: Question | None) -> list[CellValue]:
            if answer is None or not isinstance(answer.value, str):
                return [None] * (2 + len(field_keys))
            scores = answer.scores
            return [answer.value, answer.field,
                    *(round(scores[k], SCORE_DECIMALS) if k in scores else None for k in field_keys)]
    status_name = variable_name(status_name_wanted, taken)
    values = [_with_status(v, status_name) for v in values]
    status = Variable(status_name, VarKind.STATUS, VarType.STATUS, f"Status: {text.de}", f"Status: {_en(text)}",
                      question_id=qid, question_type=qtype.value, value_labels=STATUS_VALUE_LABELS,
                      versions=versions, follow_up=follow_up, width=12)
    return (*values, status), cells


def _with_status(variable: Variable, status_name: str) -> Variable:
    return replace(variable, status_variable=status_name)


def _whole(value: AnswerValue) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _columns(versions: Sequence[tuple[int, Survey]], fields: Sequence[FieldName], taken: set[str]) -> list[_Column]:
    """The question columns (then the follow-ups'), in order of first appearance; texts from the latest version."""
    codes = option_codes([survey for _, survey in versions])
    order: dict[tuple[bool, str], list[int]] = {}
    latest: dict[tuple[bool, str], Question] = {}
    options: dict[tuple[bool, str], dict[str, LocalText]] = {}
    for version, survey in versions:
        asked = [(False, q) for q in survey.questions] + [(True, f.question) for f in survey.follow_ups]
        for follow_up, question in asked:
            key = (follow_up, question.id)
            order.setdefault(key, []).append(version)
            latest[key] = question
            known = options.setdefault(key, {})
            for option in question.options:
                known[option.id] = option.text  # insertion order = first appearance; texts of the latest version
    columns: list[_Column] = []
    for key in sorted(order, key=lambda k: k[0]):  # stable sort: questions, then follow-ups, each in first order
        question = latest[key]
        variables, cells = _question_variables(
            question, tuple(order[key]), list(options[key].items()), codes.get(question.id, {}), fields, taken,
            key[0],
        )
        columns.append(_Column(question.id, variables, cells, key[0]))
    return columns


# --------------------------------------------------------------------------------------------------- responses


def _response_meta(taken: set[str]) -> tuple[Variable, ...]:
    """The first columns of the response and follow-up tables: who, which response, version, campaign, channel."""
    return (
        _meta(taken, "respondent", VarType.TEXT, "Teilnehmende Person (Pseudonym)", "Respondent (pseudonym)", 18),
        _meta(taken, "response", VarType.TEXT, "Antwortbogen (Pseudonym)", "Response (pseudonym)", 18),
        _meta(taken, "version", VarType.INTEGER, "Version der Umfrage", "Survey version", 8),
        _meta(taken, "campaign", VarType.TEXT, "Kampagne", "Campaign", 20),
        _meta(taken, "channel", VarType.TEXT, "Kanal", "Channel", 10),
    )


def response_table(
    versions: Sequence[tuple[int, Survey]],
    fields: Sequence[FieldName],
    records: Iterable[ResponseRecord],
    *,
    secret: bytes,
    scope: str,
    redact_text: bool = True,
) -> tuple[Codebook, Iterator[Row]]:
    """One survey's responses, one row each (wide). `versions` are all stored versions, ascending (from
    `query.survey_versions`); `scope` the pseudonym scope (the survey key, or "linked")."""
    if not versions:
        raise ValueError("a survey without stored versions has no table")
    taken: set[str] = set()
    meta = (
        *_response_meta(taken),
        _meta(taken, "completed", VarType.INTEGER, "Beendet", "Completed", 8, COMPLETED_LABELS),
        _meta(taken, "started_at", VarType.DATETIME, "Begonnen", "Started", 19),
        _meta(taken, "finished_at", VarType.DATETIME, "Beendet am", "Finished", 19),
    )
    columns = _columns(versions, fields, taken)
    latest = versions[-1][1]
    key = latest.id
    codebook = Codebook(
        title_de=f"Antworten: {latest.title.de}",
        title_en=f"Responses: {_en(latest.title)}",
        variables=(*meta, *(v for column in columns for v in column.variables)),
        survey=key,
        versions=tuple(version for version, _ in versions),
        fields=tuple(fields),
        notes=_notes(scope, redact_text),
    )
    by_version = {version: survey for version, survey in versions}
    asked = {version: _asked(survey) for version, survey in versions}
    rows = _response_rows(records, columns, by_version, asked, secret, scope, redact_text)
    return codebook, rows


def _asked(survey: Survey) -> dict[tuple[bool, str], Question]:
    found = {(False, q.id): q for q in survey.questions}
    found.update({(True, f.id): f.question for f in survey.follow_ups})
    return found


def _notes(scope: str, redact_text: bool) -> tuple[str, ...]:
    if scope == "linked":
        who = ("Respondent pseudonyms are linked across surveys (--link-surveys): the same person has the same "
               "pseudonym in every survey export made with this option.")
    else:
        who = (f"Respondent pseudonyms are specific to this export scope ('{scope}'): the same person has a "
               "different pseudonym in another survey's export, so files cannot be joined on a person.")
    text = ("Free-text answers are redacted (e-mail addresses, phone numbers, street addresses, announced names)."
            if redact_text else "Free-text answers are NOT redacted (--no-redact): handle the file as personal data.")
    return (
        who,
        "Response pseudonyms (r_...) identify a response, not a person.",
        text,
        "Empty cells: the question's *_status variable says why (codes in the status rows of this codebook).",
        "Option codes are stable across survey versions; an option missing from a response's version counts as "
        "not chosen (0) in multiple-choice columns.",
        "Participants chose themselves to take part: the data is not a representative sample.",
    )


class _Routes:
    """`question_statuses` of one survey version, remembered per route-relevant answer pattern.

    Statuses depend only on completion, on which questions have an answer (and whether it is a skip), and on the
    values of the questions that conditions (show_if, jumps) look at — thousands of responses share a few hundred
    such patterns, so the survey engine walks each route once.
    """

    _LIMIT = 50_000

    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self.question_ids = tuple(q.id for q in survey.questions)
        referenced = {q.show_if.question for q in survey.questions if q.show_if is not None}
        referenced |= {jump.when.question for q in survey.questions for jump in q.jumps}
        self.referenced = tuple(sorted(referenced))
        self.known: dict[object, dict[str, Status]] = {}

    def statuses(self, completed: bool, values: dict[str, AnswerValue]) -> dict[str, Status]:
        presence = tuple(0 if qid not in values else 1 if values[qid] is None else 2 for qid in self.question_ids)
        steering = tuple(_hashable(values.get(qid)) for qid in self.referenced)
        key = (completed, presence, steering)
        found = self.known.get(key)
        if found is None:
            if len(self.known) >= self._LIMIT:
                self.known.clear()
            found = self.known[key] = question_statuses(self.survey, completed, values)
        return found


def _hashable(value: AnswerValue) -> object:
    # The type is part of the key: True and 1 are equal in Python but not to a condition (see surveys.engine).
    if isinstance(value, list):
        return (list, tuple(value))
    return (type(value), value)


def _response_rows(
    records: Iterable[ResponseRecord], columns: Sequence[_Column], by_version: dict[int, Survey],
    asked: dict[int, dict[tuple[bool, str], Question]], secret: bytes, scope: str, redact_text: bool,
) -> Iterator[Row]:
    routes = {version: _Routes(survey) for version, survey in by_version.items()}
    for record in records:
        survey = by_version.get(record.version)
        if survey is None:
            continue  # a version stored after the table was built: not part of this table's codebook
        values = record.values()
        statuses = routes[record.version].statuses(record.completed, values)
        version_questions = asked[record.version]
        row: list[CellValue] = [
            export_pseudonym(secret, record.citizen_id, scope),
            response_pseudonym(secret, record.response_id),
            record.version,
            record.campaign,
            record.channel,
            1 if record.completed else 0,
            record.started_at,
            record.completed_at,
        ]
        for column in columns:
            question = version_questions.get((column.follow_up, column.question_id))
            if question is None:
                status = Status.NOT_OFFERED
            elif column.follow_up:
                status = follow_up_status(column.question_id, values, record.follow_ups.get(column.question_id))
            else:
                status = statuses[column.question_id]
            if status is Status.ANSWERED:
                cells = column.cells(record.answers.get(column.question_id), question)
                if redact_text and question is not None and question.type is QuestionType.FREE_TEXT:
                    cells[0] = redact(cells[0]) if isinstance(cells[0], str) else cells[0]
                row.extend(cells)
            else:
                row.extend([None] * column.width)
            row.append(status)
        yield row


# --------------------------------------------------------------------------------------------------- ideas


def idea_table(
    fields: Sequence[FieldName], records: Iterable[IdeaRecord], *, secret: bytes, redact_text: bool = True,
) -> tuple[Codebook, Iterator[Row]]:
    """One row per idea; the respondent pseudonym has the scope "ideas"."""
    taken: set[str] = set()
    field_labels = tuple(ValueLabel(f.key, f.name_de, f.name_en) for f in fields)
    variables = [
        _meta(taken, "idea", VarType.TEXT, "Idee (Pseudonym)", "Idea (pseudonym)", 18),
        _meta(taken, "respondent", VarType.TEXT, "Teilnehmende Person (Pseudonym)", "Respondent (pseudonym)", 18),
        _meta(taken, "created_at", VarType.DATETIME, "Eingereicht", "Submitted", 19),
        _meta(taken, "status", VarType.TEXT, "Bearbeitungsstand", "Status", 15, IDEA_STATUS_LABELS),
        _meta(taken, "status_note", VarType.TEXT, "Öffentliche Notiz der Stadt zum Bearbeitungsstand",
              "The city's public note on the status", 40),
        _meta(taken, "status_date", VarType.DATETIME, "Bearbeitungsstand gesetzt am (leer: noch wie eingereicht)",
              "Status set on (empty: still as submitted)", 19),
        _meta(taken, "channel", VarType.TEXT, "Kanal", "Channel", 10),
        Variable(variable_name("text", taken), VarKind.VALUE, VarType.TEXT, "Text der Idee", "Text of the idea",
                 width=60),
        Variable(variable_name("fields", taken), VarKind.VALUE, VarType.TEXT,
                 "Gewählte Strategiefelder (durch | getrennt)", "Chosen strategy fields (separated by |)", width=24),
        Variable(variable_name("field", taken), VarKind.FIELD, VarType.TEXT, "Erstes gewähltes Strategiefeld",
                 "First chosen strategy field", value_labels=field_labels, width=14),
        _meta(taken, "field_source", VarType.TEXT, "Herkunft des Felds (citizen/none)",
              "Source of the field (citizen/none)", 10),
        Variable(variable_name("proposed_field", taken), VarKind.FIELD, VarType.TEXT,
                 "Vorschlag des Klassifikators", "Classifier's proposal", value_labels=field_labels, width=14),
        _meta(taken, "confident", VarType.INTEGER, "Klassifikator sicher", "Classifier confident", 8, YES_NO_LABELS),
        _meta(taken, "kept_proposal", VarType.INTEGER, "Vorschlag übernommen", "Proposal kept", 8, YES_NO_LABELS),
    ]
    for f in fields:
        variables.append(Variable(variable_name(f"chose_{f.key}", taken), VarKind.OPTION, VarType.INTEGER,
                                  f"Feld gewählt: {f.name_de}", f"Field chosen: {f.name_en}", option_id=f.key,
                                  value_labels=CHOSEN_LABELS, width=8))
    for f in fields:
        variables.append(Variable(variable_name(f"score_{f.key}", taken), VarKind.SCORE, VarType.NUMBER,
                                  f"Score {f.name_de}", f"Score {f.name_en}", field_key=f.key, width=8))
    variables.append(_meta(taken, "model_version", VarType.TEXT, "Modellversion", "Model version", 16))
    variables += [
        _meta(taken, "published", VarType.INTEGER, "Veröffentlicht (freigegeben)", "Published (approved)", 8,
              YES_NO_LABELS),
        Variable(variable_name("public_text", taken), VarKind.VALUE, VarType.TEXT,
                 "Öffentlicher Wortlaut (nur wenn veröffentlicht)", "Public wording (only when published)", width=60),
        _meta(taken, "support_count", VarType.INTEGER, "Anzahl Unterstützer(innen)", "Number of supporters", 8),
        _meta(taken, "merged_into", VarType.TEXT, "Zusammengeführt in Idee (Pseudonym)",
              "Merged into idea (pseudonym)", 18),
        _meta(taken, "theme", VarType.TEXT, "Thema (stabile Kennung)", "Theme (stable id)", 12),
    ]
    notes = (
        "Respondent pseudonyms of this file have the scope 'ideas': they do not match any survey export.",
        "An empty respondent pseudonym: a published idea kept after its author deleted their data (public text only).",
        "Idea pseudonyms (i_...) identify an idea, not a person.",
        _notes("ideas", redact_text)[2].replace("Free-text answers", "Idea texts"),
    )
    codebook = Codebook("Ideen", "Ideas", tuple(variables), fields=tuple(fields), notes=notes)
    keys = [f.key for f in fields]

    def rows() -> Iterator[Row]:
        for idea in records:
            proposal = idea.proposed_field
            kept = None if proposal is None or not idea.fields else int(proposal in idea.fields)
            yield [
                idea_pseudonym(secret, idea.idea_id),
                None if idea.citizen_id is None else export_pseudonym(secret, idea.citizen_id, "ideas"),
                idea.created_at,
                idea.status,
                idea.status_note,
                idea.status_at,
                idea.channel,
                redact(idea.text) if redact_text else idea.text,
                "|".join(idea.fields) or None,
                idea.fields[0] if idea.fields else None,
                "citizen" if idea.fields else "none",
                proposal,
                None if idea.confident is None else int(idea.confident),
                kept,
                *(int(key in idea.fields) for key in keys),
                *(round(idea.scores[key], SCORE_DECIMALS) if key in idea.scores else None for key in keys),
                idea.model_version,
                int(idea.public_text is not None),
                idea.public_text,
                idea.support_count,
                None if idea.merged_into is None else idea_pseudonym(secret, idea.merged_into),
                idea.theme,
            ]

    return codebook, rows()


# --------------------------------------------------------------------------------------------------- follow-ups


def followup_table(
    versions: Sequence[tuple[int, Survey]], fields: Sequence[FieldName], records: Iterable[FollowUpRecord], *,
    secret: bytes, scope: str, redact_text: bool = True,
) -> tuple[Codebook, Iterator[Row]]:
    """One row per follow-up question row of one survey (long format: one value column set for every type)."""
    if not versions:
        raise ValueError("a survey without stored versions has no table")
    taken: set[str] = set()
    by_version = {version: _asked(survey) for version, survey in versions}
    codes = option_codes([survey for _, survey in versions])
    follow_up_ids = sorted({f.id for _, s in versions for f in s.follow_ups})
    variables = (
        *_response_meta(taken),
        _meta(taken, "follow_up", VarType.TEXT, "Nachfrage (Id)", "Follow-up (id)", 14,
              tuple(ValueLabel(fid, fid, fid) for fid in follow_up_ids)),
        _meta(taken, "due_at", VarType.DATETIME, "Fällig", "Due", 19),
        _meta(taken, "asked_at", VarType.DATETIME, "Gesendet", "Sent", 19),
        _meta(taken, "answered_at", VarType.DATETIME, "Beantwortet", "Answered", 19),
        Variable(variable_name("status", taken), VarKind.STATUS, VarType.STATUS, "Status der Nachfrage",
                 "Status of the follow-up", value_labels=STATUS_VALUE_LABELS),
        _meta(taken, "outcome", VarType.TEXT, "Nicht gesendet, weil", "Not sent because", 12),
        Variable(variable_name("value", taken), VarKind.VALUE, VarType.NUMBER,
                 "Antwort als Zahl (Optionscode, Skalenpunkt, Zahl, ja=1/nein=0)",
                 "Answer as a number (option code, scale point, number, yes=1/no=0)", status_variable="status"),
        Variable(variable_name("value_text", taken), VarKind.VALUE, VarType.TEXT,
                 "Antwort als Text (Option(en), freier Text)", "Answer as text (option(s), free text)",
                 status_variable="status", width=40),
        Variable(variable_name("value_field", taken), VarKind.FIELD, VarType.TEXT, "Strategiefeld (Klassifikator)",
                 "Strategy field (classifier)", value_labels=tuple(ValueLabel(f.key, f.name_de, f.name_en)
                                                                   for f in fields), width=14),
    )
    latest = versions[-1][1]
    codebook = Codebook(
        f"Nachfragen: {latest.title.de}", f"Follow-ups: {_en(latest.title)}", variables, survey=latest.id,
        versions=tuple(v for v, _ in versions), fields=tuple(fields),
        notes=(_notes(scope, redact_text)[0], _notes(scope, redact_text)[2],
               "One row per follow-up question scheduled for a response; the survey export has the same answers "
               "as columns."),
    )

    def rows() -> Iterator[Row]:
        for record in records:
            question = by_version.get(record.version, {}).get((True, record.follow_up_id))
            answer = record.answer
            status = follow_up_status(record.follow_up_id, {} if answer is None else {record.follow_up_id:
                                      answer.value}, record.state)
            number, text = _follow_up_value(question, answer, codes.get(record.follow_up_id, {}), redact_text)
            yield [
                export_pseudonym(secret, record.citizen_id, scope),
                response_pseudonym(secret, record.response_id),
                record.version,
                record.campaign,
                record.channel,
                record.follow_up_id,
                record.due_at,
                record.sent_at,
                None if answer is None else answer.answered_at,
                status,
                record.outcome if record.sent_at is None else None,
                number,
                text,
                None if answer is None else answer.field,
            ]

    return codebook, rows()


def _follow_up_value(
    question: Question | None, answer: StoredAnswer | None, codes: dict[str, int], redact_text: bool
) -> tuple[int | float | None, str | None]:
    if answer is None or answer.value is None or question is None:
        return None, None
    value = answer.value
    if isinstance(value, bool):
        return int(value), "ja" if value else "nein"
    if isinstance(value, list):
        return None, "|".join(str(v) for v in value)
    if isinstance(value, str):
        if question.type is QuestionType.FREE_TEXT:
            return None, redact(value) if redact_text else value
        return codes.get(value), value
    return value, None
