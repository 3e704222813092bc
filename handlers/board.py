"""Published ideas for citizens: /ideen browses them by field, buttons support them, ask for their news, or
withdraw one's own idea's publication. What is shown comes from stored data, so the core only checks the button
and asks the runtime (`IdeaRequest`); the runtime checks again against the data (only approved ideas can be
supported, only the author withdraws), changes what it must and renders the answer (bot/ideaboard).

Button payloads (the runtime renders them, the core routes them; ids are internal idea ids):
    ib:<field key, _ or ->:<page> browse: a field's published ideas, most supported first ("_": without a field,
                                 "-": the overview)
    iu:<idea id>                 support
    ix:<idea id>                 withdraw one's support
    in:<idea id>:1|0             news about this idea on / off
    iw:<idea id>[:yes]           withdraw the publication of one's own idea (asked first; `:yes` confirms)
"""

from __future__ import annotations

from handlers.board_render import NO_FIELD, OVERVIEW
from handlers.events import (
    IDEA_BROWSE,
    IDEA_NEWS_OFF,
    IDEA_NEWS_ON,
    IDEA_SUPPORT,
    IDEA_UNSUPPORT,
    IDEA_WITHDRAW,
    Decision,
    IdeaRequest,
)
from handlers.publish import IDEA_ID
from handlers.turn import Turn
from surveys.engine import fold

BROWSE = "ib"
SUPPORT = "iu"
UNSUPPORT = "ix"
NEWS = "in"
WITHDRAW = "iw"
MAX_PAGE = 999
CONFIRMED = "yes"


def browse(turn: Turn) -> Decision:
    """/ideen [field]: the overview of published ideas per field, or one field's when its name is given."""
    wanted = fold(turn.inbound.args)
    field = next(
        (
            f.key
            for f in turn.ctx.fields
            if wanted and wanted in {fold(f.key), *(fold(name) for name in f.name.values())}
        ),
        "",
    )
    return _request(turn, IdeaRequest(IDEA_BROWSE, field))


def on_browse(turn: Turn, rest: str) -> Decision | None:
    """`ib:<field>:<page>`."""
    field, _, page = rest.partition(":")
    if field not in (OVERVIEW, NO_FIELD) and field not in {f.key for f in turn.ctx.fields}:
        return None
    if not (page.isascii() and page.isdigit()) or int(page) > MAX_PAGE:
        return None
    return _request(turn, IdeaRequest(IDEA_BROWSE, "" if field == OVERVIEW else field, page=int(page)))


def on_support(turn: Turn, rest: str) -> Decision | None:
    """`iu:<idea id>`."""
    return _request(turn, IdeaRequest(IDEA_SUPPORT, rest, source="board")) if IDEA_ID.fullmatch(rest) else None


def on_unsupport(turn: Turn, rest: str) -> Decision | None:
    """`ix:<idea id>`."""
    return _request(turn, IdeaRequest(IDEA_UNSUPPORT, rest)) if IDEA_ID.fullmatch(rest) else None


def on_news(turn: Turn, rest: str) -> Decision | None:
    """`in:<idea id>:1|0`."""
    idea_id, _, on = rest.partition(":")
    if not IDEA_ID.fullmatch(idea_id) or on not in ("0", "1"):
        return None
    return _request(turn, IdeaRequest(IDEA_NEWS_ON if on == "1" else IDEA_NEWS_OFF, idea_id))


def on_withdraw(turn: Turn, rest: str) -> Decision | None:
    """`iw:<idea id>` asks first ("wirklich zurücknehmen?"); `iw:<idea id>:yes` withdraws."""
    idea_id, _, confirmed = rest.partition(":")
    if not IDEA_ID.fullmatch(idea_id) or confirmed not in ("", CONFIRMED):
        return None
    return _request(turn, IdeaRequest(IDEA_WITHDRAW, idea_id, source=CONFIRMED if confirmed else ""))


def _request(turn: Turn, request: IdeaRequest) -> Decision:
    """The runtime answers; the citizen stays in their step (a survey or an idea in progress waits)."""
    return turn.reply(effects=[request])
