"""Submitting an idea: the text (typed, or right after /idee), similar published ideas, then the strategy field(s),
then thanks and the question whether other citizens may see it (`handlers.publish`).

Similar ideas: when the runtime can search (`Context.similar_search`), the text goes out as a `FindSimilar`
effect and the step waits (`Flow.IDEA_SEARCH`, no message) for the SIMILAR event with the result. Matches (at most
three, only above the matcher's threshold, never the citizen's own) are shown in one message with "Unterstützen"
per idea and "Meine Idee ist anders"; no match goes straight on to the field question. Supporting files nothing
(the runtime records the support and answers); "Meine Idee ist anders" goes on as usual. The embedding the search
made travels in the draft and is stored with the idea (`SaveIdea.embedding`), so it is never computed twice.

The runtime classifies the text before the event reaches the core (`Inbound.classification`); the core only
proposes, the citizen decides:

- confident classification → "Das klingt nach „…“ – stimmt das?" with Ja / Anderes Feld / Mehrere Felder;
- not confident → the likeliest two or three fields (see `likely_fields`) plus Anderes Feld / Mehrere Felder;
- no classification → every field plus "Weiß nicht" (also what "Anderes Feld" shows).

Button payloads (all ≤ 64 bytes), each ending in `:<draft id>` (`IdeaDraft.id`), so that a keyboard of an earlier
idea still on screen is answered as outdated instead of acting on the idea being written now:
    f:<field>:<id>   this field (`f:-:<id>`: "Weiß nicht")
    fc:yes:<id>      the proposed field is right
    fc:other:<id>    show every field
    fc:multi:<id>    tick several fields
    ft:<field>:<id>  tick/untick a field under "Mehrere Felder" (the message is edited in place)
    fd:<id>          "Fertig" under "Mehrere Felder"
    ss:<idea id>:<id> support this similar published idea instead of filing the same again
    sd:<id>          "Meine Idee ist anders": on to the field question
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from handlers import onboarding, outreach, publish
from handlers.events import (
    IDEA_SUPPORT,
    Button,
    Decision,
    FieldInfo,
    FieldScores,
    FindSimilar,
    IdeaRequest,
    InboundKind,
    Outbound,
    SaveIdea,
    SimilarIdea,
    SimilarResult,
)
from handlers.state import FieldView, Flow, IdeaDraft, PublishQuestion
from handlers.turn import Turn, column

FIELD = "f"
NOT_SURE = "-"
CHOICE = "fc"
TOGGLE = "ft"
DONE = "fd"
SUPPORT_SIMILAR = "ss"
DIFFERENT = "sd"

SHOWN_SIMILAR = 3
"""Similar ideas shown at most (the runtime sends no more; a longer list would bury the question)."""
SIMILAR_EXCERPT = 280
"""Characters of a similar idea's public text shown in the list (whole texts could exceed a message)."""
SEARCH_PATIENCE = timedelta(seconds=20)
"""When the citizen writes while the search has not answered for this long, the bot goes on without it."""

LIKELY_COVERAGE = 0.8
"""The likeliest two fields are offered; the third too when the two together are below this probability.

The scores are calibrated, so this offers the smallest set (two or three) that contains the right field in
about four of five cases, without a third button when the top two already carry nearly all the probability.
"""


def start(turn: Turn) -> Decision:
    """/idee [text] or the menu's button: take the text right away when given, otherwise ask for it."""
    given = turn.inbound.args if turn.inbound.kind is InboundKind.COMMAND else ""
    if given.strip():
        return on_text(turn, given)
    return show_prompt(turn)


def show_prompt(turn: Turn) -> Decision:
    """Ask for the idea's text."""
    return turn.reply(Outbound(text=turn.t("idea.prompt", max=turn.ctx.idea_max_length)), flow=Flow.IDEA_TEXT)


def on_text(turn: Turn, text: str) -> Decision:
    """The idea's text: too long or empty texts are not kept; otherwise ask for the field."""
    idea = text.strip()
    if not idea:
        return turn.reply(Outbound(text=turn.t("idea.empty")), flow=Flow.IDEA_TEXT)
    if not any(character.isalpha() for character in idea):  # "👍", "123", "!!!": nothing anyone could act on
        return turn.reply(Outbound(text=turn.t("idea.no_words")), flow=Flow.IDEA_TEXT)
    if len(idea) > turn.ctx.idea_max_length:
        message = turn.t("idea.too_long", length=len(idea), max=turn.ctx.idea_max_length)
        return turn.reply(Outbound(text=message), flow=Flow.IDEA_TEXT)
    scores = turn.inbound.classification
    draft = IdeaDraft(text=idea, classification=scores, view=_first_view(turn, scores), id=turn.ctx.new_id[-8:])
    if turn.ctx.similar_search:
        draft = replace(draft, searched_at=turn.ctx.now.isoformat())
        search = FindSimilar(draft_id=draft.id, text=idea)
        return turn.reply(flow=Flow.IDEA_SEARCH, data=turn.data.evolve(idea=draft), effects=[search])
    return _ask_field(turn, draft)


# --------------------------------------------------------------------------------------------- similar ideas


def on_similar(turn: Turn) -> Decision:
    """The SIMILAR event: the search's result for the draft. A result for another draft, or one arriving after the
    citizen moved on (/abbrechen, a new idea, the bot went on without it), changes nothing and sends nothing."""
    result = SimilarResult.from_json(turn.inbound.args)
    draft = turn.data.idea
    if result is None or draft is None or turn.flow is not Flow.IDEA_SEARCH or result.draft_id != draft.id:
        return Decision(state=turn.state)
    draft = replace(draft, vector=result.vector, model=result.model, similar=result.matches[:SHOWN_SIMILAR])
    if not draft.similar:
        return _ask_field(turn, draft)
    return _show_similar(turn, draft)


def waiting(turn: Turn) -> Decision:
    """The search step's prompt: say the bot is looking, or go on without the search when it takes too long."""
    draft = turn.data.idea
    if draft is None:
        return show_prompt(turn)
    if _waited_too_long(turn, draft):
        return _ask_field(turn, draft)
    return turn.reply(Outbound(text=turn.t("similar.searching")))


def waiting_text(turn: Turn, text: str) -> Decision:
    """Typed while the search runs: the search's result decides what comes next, unless it is overdue."""
    return waiting(turn)


def _waited_too_long(turn: Turn, draft: IdeaDraft) -> bool:
    try:
        asked = datetime.fromisoformat(draft.searched_at or "")
    except ValueError:
        return True
    return turn.ctx.now - asked >= SEARCH_PATIENCE


def _similar_text(turn: Turn, draft: IdeaDraft) -> str:
    lines = [turn.t("similar.intro")]
    for number, idea in enumerate(draft.similar, start=1):
        field = _field(turn, idea.field) if idea.field else None
        facts = [
            field.label(turn.lang) if field is not None else turn.t("similar.no_field"),
            _supporters(turn, idea),
            turn.t(f"idea_status.{idea.status}") if idea.status else "",
        ]
        if idea.supported:
            facts.append(turn.t("similar.you_support"))
        text = idea.text if len(idea.text) <= SIMILAR_EXCERPT else idea.text[: SIMILAR_EXCERPT - 1].rstrip() + "…"
        lines.append(turn.t("similar.idea", number=number, text=text, facts=" · ".join(f for f in facts if f)))
    return "\n\n".join(lines)


def _supporters(turn: Turn, idea: SimilarIdea) -> str:
    if idea.supporters <= 0:
        return turn.t("similar.supporters_none")
    if idea.supporters == 1:
        return turn.t("similar.supporters_one")
    return turn.t("similar.supporters_many", count=idea.supporters)


def _show_similar(turn: Turn, draft: IdeaDraft) -> Decision:
    # One button per listed idea, so that a typed number is the idea with that number.
    buttons = [
        Button(
            f"{SUPPORT_SIMILAR}:{idea.id}:{draft.id}",
            turn.t("similar.supported_button" if idea.supported else "similar.support", number=number),
        )
        for number, idea in enumerate(draft.similar, start=1)
    ]
    buttons.append(Button(f"{DIFFERENT}:{draft.id}", turn.t("similar.different")))
    supportable = any(not idea.supported for idea in draft.similar)
    question = turn.t("similar.question_support" if supportable else "similar.question_supported")
    message = Outbound(text=f"{_similar_text(turn, draft)}\n\n{question}", buttons=column(buttons))
    return turn.reply(message, flow=Flow.IDEA_SIMILAR, data=turn.data.evolve(idea=draft))


def show_similar(turn: Turn) -> Decision:
    """The similar ideas again (the step's prompt)."""
    draft = turn.data.idea
    if draft is None or not draft.similar:
        return show_fields(turn)
    return _show_similar(turn, draft)


def on_support_similar(turn: Turn, rest: str) -> Decision | None:
    """`ss:<idea id>:<draft id>`: support that idea instead of filing the same one again; the runtime records the
    support and answers (new count, news about it?). The citizen's own text is not stored."""
    idea_id, _, draft_id = rest.rpartition(":")
    draft = turn.data.idea
    if draft is None or draft.id != draft_id:
        return None
    shown = [idea for idea in draft.similar if idea.id == idea_id]
    if not shown:
        return None
    if shown[0].supported:  # its button says so; nothing to do
        return turn.reply(Outbound(text=turn.t("similar.already")))
    number = draft.similar.index(shown[0]) + 1
    edit = turn.edit_answered(_similar_text(turn, draft), turn.t("similar.support", number=number))
    request = IdeaRequest(IDEA_SUPPORT, idea_id, source="similar", draft=draft.id)
    # The draft is set aside for one turn: should the idea have left the board meanwhile, the runtime's answer
    # offers "Meine Idee einreichen" (`sd:<draft id>`), and the citizen's text is not lost.
    data = turn.data.evolve(idea=None, parked=draft)
    return turn.reply(*edit, flow=Flow.MENU, data=data, effects=[request])


def on_different(turn: Turn, rest: str) -> Decision | None:
    """`sd:<draft id>`: none of them proposes the same; file the idea as usual (the field question). Also the
    answer to a support that failed because the idea left the board: the draft set aside comes back."""
    draft = turn.data.idea
    if draft is None or draft.id != rest:
        parked = turn.data.parked
        if parked is None or parked.id != rest:
            return None
        return _ask_field(turn.with_data(turn.data.evolve(parked=None)), parked)
    edit = turn.edit_answered(_similar_text(turn, draft), turn.t("similar.different"))
    decision = _ask_field(turn, draft)
    return replace(decision, messages=(*edit, *decision.messages))


def _payload(draft: IdeaDraft, *parts: str) -> str:
    """A button payload of this draft: the parts, then the draft's id (none for drafts of an older bot)."""
    return ":".join([*parts, draft.id] if draft.id else parts)


def _of_this_draft(turn: Turn, rest: str) -> tuple[IdeaDraft, str] | None:
    """The current draft and what the button says (`rest` without the draft id); None when the button belongs
    to no draft or to another one (an older keyboard still on screen)."""
    draft = turn.data.idea
    if draft is None:
        return None
    if not draft.id:
        return draft, rest
    value, separator, given = rest.rpartition(":")
    if not separator:  # "fd:<id>" carries only the id
        value, given = "", rest
    return (draft, value) if given == draft.id else None


def likely_fields(scores: FieldScores, known: Sequence[str]) -> list[str]:
    """The two likeliest known fields, and the third when the two leave more than `1 - LIKELY_COVERAGE` open."""
    ranked = [key for key in scores.top(len(scores.scores)) if key in known]
    if len(ranked) > 2 and scores.scores[ranked[0]] + scores.scores[ranked[1]] < LIKELY_COVERAGE:
        return ranked[:3]
    return ranked[:2]


def _first_view(turn: Turn, scores: FieldScores | None) -> FieldView:
    known = [f.key for f in turn.ctx.fields]
    if scores is None or len(likely_fields(scores, known)) < 2:
        return FieldView.ALL  # no classification, or one for another taxonomy
    return FieldView.PROPOSAL if scores.confident and scores.best in known else FieldView.LIKELY


def show_fields(turn: Turn) -> Decision:
    """The field question again, as it was last shown (the prompt of both field steps)."""
    draft = turn.data.idea
    if draft is None:
        return show_prompt(turn)
    if turn.flow is Flow.IDEA_FIELDS:
        return _ask_several(turn, draft)
    return _ask_field(turn, draft)


def _field(turn: Turn, key: str) -> FieldInfo | None:
    return next((f for f in turn.ctx.fields if f.key == key), None)


def _replaces(turn: Turn) -> str | None:
    """Switching views edits the message the button sat on, so only one set of field buttons is live."""
    return turn.inbound.message_ref if turn.inbound.kind is InboundKind.BUTTON else None


def _ask_field(turn: Turn, draft: IdeaDraft, replaces: str | None = None) -> Decision:
    other = Button(_payload(draft, CHOICE, "other"), turn.t("idea.other_field"))
    several = Button(_payload(draft, CHOICE, "multi"), turn.t("idea.several_fields"))
    scores = draft.classification
    if draft.view is FieldView.PROPOSAL and scores is not None and (best := _field(turn, scores.best)) is not None:
        text = _with_hints(turn, turn.t("idea.proposal", field=best.label(turn.lang)), [best])
        buttons = [Button(_payload(draft, CHOICE, "yes"), turn.t("idea.yes_field")), other, several]
    elif draft.view is FieldView.LIKELY and scores is not None:
        keys = likely_fields(scores, [f.key for f in turn.ctx.fields])
        likely = [f for f in (_field(turn, key) for key in keys) if f is not None]
        text = _with_hints(turn, turn.t("idea.choose_likely"), likely)
        buttons = [*(Button(_payload(draft, FIELD, f.key), f.label(turn.lang)) for f in likely), other, several]
    else:
        text = _with_hints(turn, turn.t("idea.choose_field"), turn.ctx.fields)
        buttons = [Button(_payload(draft, FIELD, f.key), f.label(turn.lang)) for f in turn.ctx.fields]
        buttons.append(Button(_payload(draft, FIELD, NOT_SURE), turn.t("idea.not_sure")))
    message = Outbound(text=text, buttons=column(buttons), replaces=replaces)
    return turn.reply(message, flow=Flow.IDEA_FIELD, data=turn.data.evolve(idea=draft))


def _with_hints(turn: Turn, question: str, fields: Sequence[FieldInfo]) -> str:
    """The field question under one line per field saying what belongs there (a citizen cannot guess what
    "Smarte Wuppertaler*innen" means); the question comes last, where Matrix takes a poll's heading from."""
    hints = [
        turn.t("idea.field_hint", field=f.label(turn.lang), hint=f.hint(turn.lang)) for f in fields if f.hint(turn.lang)
    ]
    return "\n".join(hints) + f"\n\n{question}" if hints else question


def _ask_several(turn: Turn, draft: IdeaDraft, replaces: str | None = None, lead: str | None = None) -> Decision:
    buttons = [
        Button(_payload(draft, TOGGLE, f.key), ("✓ " if f.key in draft.picked else "") + f.label(turn.lang))
        for f in turn.ctx.fields
    ]
    buttons.append(Button(_payload(draft, DONE), turn.t("survey.done")))
    text = _with_hints(turn, turn.t("idea.choose_several"), turn.ctx.fields)
    text = text if lead is None else f"{lead}\n\n{text}"
    message = Outbound(text=text, buttons=column(buttons), replaces=replaces, multi=True)
    return turn.reply(message, flow=Flow.IDEA_FIELDS, data=turn.data.evolve(idea=draft))


def on_choice(turn: Turn, rest: str) -> Decision | None:
    """`fc:yes` saves the proposed field; `fc:other` shows every field; `fc:multi` switches to ticking."""
    found = _of_this_draft(turn, rest)
    if found is None:
        return None
    draft, choice = found
    if choice == "yes":
        scores = draft.classification
        best = None if scores is None or not scores.confident else _field(turn, scores.best)
        return None if best is None else _save(turn, draft, [best])
    if choice == "other":
        return _ask_field(turn, replace(draft, view=FieldView.ALL, picked=()), _replaces(turn))
    if choice == "multi":
        return _ask_several(turn, replace(draft, picked=()), _replaces(turn))
    return None


def on_field(turn: Turn, rest: str) -> Decision | None:
    """`f:<key>`: store the idea with the chosen field (`f:-`: none)."""
    found = _of_this_draft(turn, rest)
    if found is None:
        return None
    draft, key = found
    if key == NOT_SURE:
        return _save(turn, draft, [])
    chosen = _field(turn, key)
    return None if chosen is None else _save(turn, draft, [chosen])


def on_toggle(turn: Turn, rest: str) -> Decision | None:
    """`ft:<key>`: tick or untick a field; the message is edited in place."""
    found = _of_this_draft(turn, rest)
    if found is None or _field(turn, found[1]) is None:
        return None
    draft, key = found
    picked = tuple(k for k in draft.picked if k != key) if key in draft.picked else (*draft.picked, key)
    return _ask_several(turn, replace(draft, picked=picked), _replaces(turn))


def on_done(turn: Turn, rest: str) -> Decision | None:
    """`fd`: store the idea with every ticked field (at least one), in the order they were ticked."""
    found = _of_this_draft(turn, rest)
    if found is None or found[1]:
        return None
    draft = found[0]
    chosen = [f for f in (_field(turn, key) for key in draft.picked) if f is not None]
    if not chosen:
        return _ask_several(turn, draft, lead=turn.t("idea.several_none"))
    return _save(turn, draft, chosen)


def _save(turn: Turn, draft: IdeaDraft, chosen: Sequence[FieldInfo]) -> Decision:
    """Store the idea, thank the citizen; then the one-time training question, or the menu."""
    label = ", ".join(f.label(turn.lang) for f in chosen) if chosen else turn.t("idea.not_sure")
    edit = turn.edit_answered(turn.t("idea.field_label"), label)
    keys = tuple(f.key for f in chosen)
    effect = SaveIdea(
        idea_id=turn.ctx.new_id,
        text=draft.text,
        field=keys[0] if keys else None,
        fields=keys,
        classification=draft.classification,
        embedding=draft.vector,
        embedding_model=draft.model if draft.vector is not None else None,
    )
    # Only ideas with a field the citizen confirmed can teach the classifier, so only then is it worth asking.
    question = PublishQuestion(effect.idea_id, then_training=bool(chosen) and turn.state.training_consent is None)
    data = turn.data.evolve(idea=None, publish=question)
    # Asked at the next calm moment, one per turn: after the publication (and training) question.
    data = outreach.want_to_ask(data, turn, outreach.IDEA_NEWS, "idea_filed")
    data = outreach.want_to_ask(data, turn, outreach.SURVEYS, "after_idea")
    # The thanks name where the idea was filed, so a citizen who corrected the proposal sees it took.
    thanks = turn.t("idea.thanks_field", fields=label) if chosen else turn.t("idea.thanks_no_field")
    return publish.ask(turn, *edit, lead=thanks, data=data, effects=[effect])


def cancel(turn: Turn) -> Decision:
    """/abbrechen while writing an idea: forget the draft."""
    return onboarding.menu(turn, lead=turn.t("idea.cancelled"), data=turn.data.evolve(idea=None))
