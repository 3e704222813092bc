"""/meinedaten as a citizen reads it: a plain-language summary, and the complete data as a JSON file.

The summary names what is stored in words ("Ihre Ideen (2): „Mehr Bänke im Park“ – Leben, 26.11.2026"); the file
`meine-daten.json` holds every stored value, the technical ones (conversation state, classifier scores) included,
so the right of access is met completely and in a machine-readable form. Pure: the runtime passes the data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from handlers.events import IDEA_NEW, Document, FieldInfo, Outbound, Texts
from handlers.formats import local_day
from handlers.publication_render import CONSENT_TEXTS, state_label
from handlers.staff_render import status_label
from handlers.turn import MAX_TEXT
from surveys.answers import answer_label
from surveys.catalog import SurveyCatalog

EXPORT_FILENAME = "meine-daten.json"
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}
CHANNEL_NAMES = {"telegram": "Telegram", "matrix": "Matrix", "terminal": "Terminal"}
_QUESTION_CHARS = 70  # a question's text in front of the answer
_PLANNED = frozenset({"pending", "held", "running", "queued"})
"""follow_ups statuses of messages not sent yet."""


@dataclass(frozen=True)
class _Detail:
    """How much the summary shows; less and less until it fits in one message (the file always has it all)."""

    items: int  # newest ideas and surveys listed
    quote: int | None  # characters of an idea or a typed answer shown (None: all)
    answers: bool  # each survey's answers, or only their number


_DETAILS = (
    _Detail(items=10, quote=None, answers=True),
    _Detail(items=10, quote=200, answers=True),
    _Detail(items=5, quote=80, answers=False),
    _Detail(items=1, quote=80, answers=False),
)


def render_export(
    data: Mapping[str, Any],
    lang: str,
    texts: Texts,
    fields: Sequence[FieldInfo] = (),
    tz: tzinfo = UTC,
    catalog: SurveyCatalog | None = None,
) -> tuple[Outbound, ...]:
    """One message: the summary as text, everything stored as the attached JSON file.

    `catalog` turns stored answers ("rad") back into the question and the option the citizen saw.
    """
    content = json.dumps(data, ensure_ascii=False, indent=2, default=_json_value).encode("utf-8")
    document = Document(EXPORT_FILENAME, content)
    view = _View(texts, lang, {f.key: f.label(lang) for f in fields}, tz, catalog)
    for detail in _DETAILS:
        text = view.summary(data, detail)
        if len(text) <= MAX_TEXT:
            break
    return (Outbound(text=text[:MAX_TEXT], document=document),)


def _cut(text: str, limit: int | None) -> str:
    flat = " ".join(text.split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


class _View:
    def __init__(
        self, texts: Texts, lang: str, field_labels: Mapping[str, str], tz: tzinfo, catalog: SurveyCatalog | None
    ) -> None:
        self.texts, self.lang, self.field_labels, self.tz, self.catalog = texts, lang, field_labels, tz, catalog

    def t(self, key: str, **values: Any) -> str:
        return self.texts.get(key, self.lang, **values)

    def day(self, value: object) -> str:
        """An ISO timestamp as the date a citizen reads (in the city's time zone)."""
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                return "–"
        return local_day(moment, self.lang, self.tz)

    def summary(self, data: Mapping[str, Any], detail: _Detail) -> str:
        citizen = data.get("citizen")
        if not citizen:
            return "\n\n".join([self.t("privacy.export_nothing"), self.t("privacy.export_outro")])
        parts = [self.t("privacy.export_intro", file=EXPORT_FILENAME), "\n".join(self._person(citizen, data))]
        parts.append(self._ideas(data.get("ideas") or [], detail))
        supports = self._supports(data, detail)
        if supports:
            parts.append(supports)
        parts.append(self._responses(data.get("responses") or [], detail))
        parts.append(self._opt_ins(data))
        parts.append(self._follow_ups(data.get("follow_ups") or []))
        undelivered = data.get("undelivered") or []
        if undelivered:
            parts.append(self.t("privacy.export_undelivered", count=len(undelivered)))
        parts += [self.t("privacy.export_technical"), self.t("privacy.export_outro")]
        return "\n\n".join(parts)

    def _person(self, citizen: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        language = str(citizen.get("language") or "")
        lines = [
            self.t("privacy.export_pseudonym", id=citizen.get("id", "–")),
            self.t("privacy.export_language", language=LANGUAGE_NAMES.get(language, language or "–")),
        ]
        if citizen.get("consent_version"):
            when = self.day(citizen.get("consent_at"))
            lines.append(self.t("privacy.export_consent", version=citizen["consent_version"], date=when))
        else:
            lines.append(self.t("privacy.export_no_consent"))
        training = citizen.get("training_consent")
        if training is None:
            lines.append(self.t("privacy.export_training_unasked"))
        else:
            lines.append(self.t("privacy.export_training_yes" if training else "privacy.export_training_no"))
        contacts = [
            f"{CHANNEL_NAMES.get(str(c.get('channel')), str(c.get('channel')))} ({c.get('channel_user_id')})"
            for c in data.get("contacts") or []
        ]
        if contacts:
            lines.append(self.t("privacy.export_contacts", channels=", ".join(contacts)))
        return lines

    def _opt_ins(self, data: Mapping[str, Any]) -> str:
        """Current opt-ins with their proof, the withdrawn ones as history, and the pause."""
        rows = [o for o in data.get("opt_ins") or [] if isinstance(o, Mapping)]
        current = [o for o in rows if not o.get("withdrawn_at")]
        past = [o for o in rows if o.get("withdrawn_at")]
        lines = [self.t("privacy.export_opt_ins")] if current else [self.t("privacy.export_no_opt_ins")]
        for row in current:
            lines.append(
                self.t(
                    "privacy.export_opt_in",
                    topic=self._topic(row),
                    fields=self._fields(row),
                    date=self.day(row.get("granted_at")),
                    source=self._source(row),
                    version=row.get("notice_version") or "–",
                )
            )
        if past:
            lines.append(self.t("privacy.export_opt_ins_past"))
            for row in past:
                granted, withdrawn = self.day(row.get("granted_at")), self.day(row.get("withdrawn_at"))
                lines.append(
                    self.t(
                        "privacy.export_opt_in_past",
                        topic=self._topic(row),
                        fields=self._fields(row),
                        granted=granted,
                        withdrawn=withdrawn,
                    )
                )
        citizen = data.get("citizen") or {}
        paused = data.get("paused_until") or (citizen.get("paused_until") if isinstance(citizen, Mapping) else None)
        if paused and self._future(paused, data):
            lines.append(self.t("privacy.export_paused", date=self.day(paused)))
        return "\n".join(lines)

    def _future(self, value: object, data: Mapping[str, Any]) -> bool:
        """Whether the pause is still on when the export is made (the citizen's last message, /meinedaten itself);
        shown when that is unknown."""
        citizen = data.get("citizen") or {}
        made = data.get("exported_at") or (citizen.get("last_seen_at") if isinstance(citizen, Mapping) else None)
        try:
            return made is None or datetime.fromisoformat(str(value)) > datetime.fromisoformat(str(made))
        except (TypeError, ValueError):
            return True

    def _topic(self, row: Mapping[str, Any]) -> str:
        topic = str(row.get("topic") or "")
        keys = {
            "surveys": "privacy.topic_surveys",
            "followups": "privacy.topic_followups",
            "idea_news": "privacy.topic_idea_news",
        }
        return self.t(keys[topic]) if topic in keys else topic or "–"

    def _fields(self, row: Mapping[str, Any]) -> str:
        keys = row.get("fields") or []
        if not isinstance(keys, list | tuple) or not keys:
            return ""
        names = ", ".join(self.field_labels.get(str(k), str(k)) for k in keys)
        return " " + self.t("privacy.export_opt_in_fields", fields=names)

    def _source(self, row: Mapping[str, Any]) -> str:
        keys = {
            "abo": "privacy.source_abo",
            "after_survey": "privacy.source_after_survey",
            "after_idea": "privacy.source_after_idea",
            "survey_end": "privacy.source_survey_end",
            "idea_filed": "privacy.source_idea_filed",
            "invite_prompt": "privacy.source_invite_prompt",
        }
        return self.t(keys.get(str(row.get("source") or ""), "privacy.source_other"))

    def _follow_ups(self, follow_ups: Sequence[Mapping[str, Any]]) -> str:
        """Planned (not yet sent) messages, counted by kind."""
        planned = [f for f in follow_ups if isinstance(f, Mapping) and f.get("status") in _PLANNED]
        if not planned:
            return self.t("privacy.export_no_follow_ups")
        kinds = {
            "invitation": "privacy.kind_invitation",
            "campaign_reminder": "privacy.kind_campaign_reminder",
            "survey_followup": "privacy.kind_survey_followup",
            "survey_reminder": "privacy.kind_survey_reminder",
            "idea_news": "privacy.kind_idea_news",
        }
        counts: dict[str, int] = {}
        for row in planned:
            label = self.t(kinds.get(str(row.get("kind") or ""), "privacy.kind_other"))
            counts[label] = counts.get(label, 0) + 1
        lines = [self.t("privacy.export_follow_ups", count=len(planned))]
        lines += [self.t("privacy.export_follow_up_kind", kind=kind, count=count) for kind, count in counts.items()]
        return "\n".join(lines)

    def _more(self, lines: list[str], total: int, cap: int) -> str:
        if total > cap:
            lines.append(self.t("privacy.export_more", count=total - cap))
        return "\n".join(lines)

    def _ideas(self, ideas: Sequence[Mapping[str, Any]], detail: _Detail) -> str:
        if not ideas:
            return self.t("privacy.export_no_ideas")
        lines = [self.t("privacy.export_ideas", count=len(ideas))]
        newest = list(ideas)[-detail.items :]
        for number, idea in enumerate(newest, start=len(ideas) - len(newest) + 1):
            quoted = _cut(str(idea.get("text", "")), detail.quote)
            keys = idea.get("fields") or ([idea["field"]] if idea.get("field") else [])
            labels = ", ".join(self.field_labels.get(str(k), str(k)) for k in keys)
            labels = labels or self.t("privacy.export_no_field")
            when = self.day(idea.get("created_at"))
            lines.append(self.t("privacy.export_idea", number=number, text=quoted, fields=labels, date=when))
            status = str(idea.get("status") or "")
            if status and status != IDEA_NEW:  # news from the city: the status, since when, and its note
                since = self.day(idea.get("status_at") or idea.get("created_at"))
                lines.append(self.t("privacy.export_idea_status", status=status_label(self.texts, self.lang, status),
                                    date=since))  # fmt: skip
                note = idea.get("status_note_en") if self.lang == "en" and idea.get("status_note_en") else None
                note = note or idea.get("status_note")
                if note:
                    lines.append(self.t("my_ideas.note", note=_cut(str(note), detail.quote)))
            lines += self._publication(idea, detail)
        return self._more(lines, len(ideas), detail.items)

    def _publication(self, idea: Mapping[str, Any], detail: _Detail) -> list[str]:
        """Issue 13: the publication answer and state, the public wording, supporters, and whether an embedding
        (a list of 384 numbers computed from the text) is stored — said, not shown."""
        lines: list[str] = []
        consent = str(idea.get("publish_consent") or "")
        state = str(idea.get("publication") or "none")
        if consent in CONSENT_TEXTS:
            lines.append(self.t("publication.export_consent", answer=self.t(CONSENT_TEXTS[consent]),
                                state=state_label(self.texts, self.lang, state)))  # fmt: skip
        if state == "approved" and idea.get("public_text"):
            lines.append(self.t("publication.my_public_text", text=_cut(str(idea["public_text"]), detail.quote)))
        if idea.get("supporters"):
            lines.append(self.t("publication.my_supporters", count=idea["supporters"]))
        if idea.get("embedding_stored"):
            lines.append(self.t("publication.export_embedding"))
        return lines

    def _supports(self, data: Mapping[str, Any], detail: _Detail) -> str | None:
        supports = data.get("supports") or []
        searches = data.get("similar_searches") or []
        if not supports and not searches:
            return None
        lines = []
        if supports:
            lines.append(self.t("publication.export_supports", count=len(supports)))
            for item in list(supports)[-detail.items :]:
                text = _cut(str(item.get("public_text") or self.t("publication.export_support_gone")), detail.quote)
                lines.append(self.t("publication.export_support", text=text, date=self.day(item.get("created_at"))))
        if searches:
            lines.append(self.t("publication.export_searches", count=len(searches)))
        return "\n".join(lines)

    def _responses(self, responses: Sequence[Mapping[str, Any]], detail: _Detail) -> str:
        if not responses:
            return self.t("privacy.export_no_responses")
        lines = [self.t("privacy.export_responses", count=len(responses))]
        for response in list(responses)[-detail.items :]:
            survey = response.get("survey") or {}
            title = survey.get("title") or survey.get("key") or "–"
            answers = len(response.get("answers") or [])
            done = response.get("status") == "completed"
            when = self.day(response.get("completed_at" if done else "started_at"))
            key = "privacy.export_response_done" if done else "privacy.export_response_open"
            lines.append(self.t(key, title=title, date=when, answers=answers))
            if detail.answers:
                lines += [f"   – {line}" for line in self._answers(survey, response.get("answers") or [], detail)]
            else:
                embedded = sum(1 for a in response.get("answers") or [] if a.get("embedding_stored"))
                if embedded:
                    lines.append(self.t("privacy.export_answer_embeddings", count=embedded))
        return self._more(lines, len(responses), detail.items)

    def _answers(self, survey: Mapping[str, Any], answers: Sequence[Mapping[str, Any]], detail: _Detail) -> list[str]:
        """Each answer as "question: answer" the way the citizen saw it; ids and raw values if the survey is gone."""
        version = None
        if self.catalog is not None and survey.get("key") is not None:
            try:
                version = self.catalog.get(str(survey["key"]), int(survey.get("version") or 0))
            except (TypeError, ValueError):
                version = None
        questions = {q.id: q for q in version.survey.questions} if version is not None else {}
        lines = []
        for answer in answers:
            lines.append(self._answer(questions, answer, detail))
            if answer.get("embedding_stored"):  # the numbers themselves are never shown, not even in the file
                lines[-1] += "\n     " + self.t("privacy.export_answer_embedding")
        return lines

    def _answer(self, questions: Mapping[str, Any], answer: Mapping[str, Any], detail: _Detail) -> str:
        question = questions.get(str(answer.get("question_id")))
        value = answer.get("value")
        if question is None:
            raw = json.dumps(value, ensure_ascii=False)
            return f"{answer.get('question_id')}: {_cut(raw, detail.quote)}"
        try:
            shown = answer_label(question, value, self.lang)
        except (KeyError, TypeError, ValueError):  # a value the survey no longer knows how to show
            shown = json.dumps(value, ensure_ascii=False)
        return f"{_cut(question.text.get(self.lang), _QUESTION_CHARS)}: {_cut(str(shown), detail.quote)}"
