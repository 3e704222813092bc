"""The respect rules for one due follow-up: deliver, move or skip — pure, so no database and no clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.outreach.policy import (
    OUTCOME_MISSED,
    OUTCOME_NO_CONTACT,
    OUTCOME_NO_OPT_IN,
    OUTCOME_UNREACHABLE,
    Deliver,
    Move,
    Reason,
    RowFacts,
    Rules,
    Skip,
    decide,
)

BERLIN = ZoneInfo("Europe/Berlin")
RULES = Rules(timezone=BERLIN)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


NOON = berlin(2026, 6, 10, 12, 0)
EVENING = berlin(2026, 6, 10, 20, 0)  # seven and ten hours before it lie outside the quiet hours


def facts(**changes: object) -> RowFacts:
    base = RowFacts(
        due_at=NOON,
        kind="survey_followup",
        unsolicited=True,
        has_contact=True,
        reachable=True,
        opt_ins=frozenset({"followups", "surveys", "idea_news"}),
        paused_until=None,
        sent_today=0,
        awake_since=NOON - timedelta(days=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_opted_in_reachable_citizen_gets_a_due_row_at_noon() -> None:
    assert decide(facts(), NOON, RULES) == Deliver()


def test_quiet_hours_move_a_row_to_nine_the_next_morning() -> None:
    late = berlin(2026, 6, 10, 22, 30)
    assert decide(facts(due_at=late), late, RULES) == Move(berlin(2026, 6, 11, 9, 0), Reason.QUIET_HOURS)


def test_after_midnight_the_quiet_hours_end_the_same_morning() -> None:
    early = berlin(2026, 6, 11, 3, 0)
    assert decide(facts(due_at=early), early, RULES) == Move(berlin(2026, 6, 11, 9, 0), Reason.QUIET_HOURS)


def test_quiet_hours_that_do_not_wrap_midnight() -> None:
    rules = replace(RULES, quiet_start=time(12, 0), quiet_end=time(14, 0))
    assert decide(facts(), NOON, rules) == Move(berlin(2026, 6, 10, 14, 0), Reason.QUIET_HOURS)
    assert decide(facts(), berlin(2026, 6, 10, 14, 0), rules) == Deliver()


def test_without_quiet_hours_nothing_is_moved_at_night() -> None:
    night = berlin(2026, 6, 10, 23, 0)
    assert decide(facts(), night, replace(RULES, quiet_start=None, quiet_end=None)) == Deliver()


def test_the_daily_cap_moves_a_second_unsolicited_row_to_the_next_morning() -> None:
    assert decide(facts(sent_today=1), NOON, RULES) == Move(berlin(2026, 6, 11, 9, 0), Reason.DAILY_CAP)
    assert decide(facts(sent_today=1), NOON, replace(RULES, daily_cap=2)) == Deliver()
    assert decide(facts(sent_today=5), NOON, replace(RULES, daily_cap=0)) == Deliver()  # 0: no cap


def test_the_daily_cap_without_quiet_hours_moves_to_midnight() -> None:
    rules = replace(RULES, quiet_start=None, quiet_end=None)
    assert decide(facts(sent_today=1), NOON, rules) == Move(berlin(2026, 6, 11, 0, 0), Reason.DAILY_CAP)


def test_a_paused_citizen_gets_the_row_when_the_pause_ends() -> None:
    until = NOON + timedelta(days=14)
    assert decide(facts(paused_until=until), NOON, RULES) == Move(until, Reason.PAUSED)
    assert decide(facts(paused_until=NOON - timedelta(seconds=1)), NOON, RULES) == Deliver()


@pytest.mark.parametrize(
    ("kind", "topic"),
    [
        ("invitation", "surveys"),
        ("campaign_reminder", "surveys"),
        ("survey_followup", "followups"),
        ("survey_reminder", "followups"),
        ("idea_news", "idea_news"),
    ],
)
def test_each_unsolicited_kind_needs_its_own_opt_in(kind: str, topic: str) -> None:
    others = frozenset({"surveys", "followups", "idea_news"}) - {topic}
    assert decide(facts(kind=kind, opt_ins=others), NOON, RULES) == Skip(OUTCOME_NO_OPT_IN)
    assert decide(facts(kind=kind, opt_ins=frozenset({topic})), NOON, RULES) == Deliver()


def test_solicited_rows_ignore_opt_ins_pause_quiet_hours_and_the_cap() -> None:
    night = berlin(2026, 6, 10, 23, 0)
    row = facts(unsolicited=False, opt_ins=frozenset(), paused_until=night + timedelta(days=3), sent_today=9)
    assert decide(row, night, RULES) == Deliver()


def test_rows_whose_grace_ran_out_while_the_bot_was_down_are_missed() -> None:
    started = EVENING
    assert decide(facts(due_at=EVENING - timedelta(hours=7), awake_since=started), EVENING, RULES) == Skip(
        OUTCOME_MISSED
    )
    assert decide(facts(due_at=EVENING - timedelta(hours=5), awake_since=started), EVENING, RULES) == Deliver()


def test_a_row_that_waited_while_the_bot_ran_is_never_missed() -> None:
    """Pacing a large broadcast may hold rows for hours: that must not cost citizens their invitation."""
    row = facts(due_at=NOON - timedelta(hours=10), awake_since=NOON - timedelta(hours=11))
    assert decide(row, NOON, RULES) == Deliver()


def test_a_row_waiting_when_the_bot_went_down_is_missed_only_if_the_outage_outlasted_the_grace() -> None:
    waiting = EVENING - timedelta(hours=10)  # due while the previous bot ran, still waiting (pacing)
    short = facts(due_at=waiting, down_since=EVENING - timedelta(hours=1), awake_since=EVENING)
    long = facts(due_at=waiting, down_since=EVENING - timedelta(hours=7), awake_since=EVENING)
    assert decide(short, EVENING, RULES) == Deliver()
    assert decide(long, EVENING, RULES) == Skip(OUTCOME_MISSED)
    during = facts(due_at=EVENING - timedelta(hours=7), down_since=EVENING - timedelta(hours=9), awake_since=EVENING)
    assert decide(during, EVENING, RULES) == Skip(OUTCOME_MISSED), "fell due during a long outage"


def test_citizens_without_a_reachable_contact_are_skipped() -> None:
    assert decide(facts(has_contact=False), NOON, RULES) == Skip(OUTCOME_NO_CONTACT)
    assert decide(facts(reachable=False), NOON, RULES) == Skip(OUTCOME_UNREACHABLE)
    assert decide(facts(reachable=False, unsolicited=False), NOON, RULES) == Skip(OUTCOME_UNREACHABLE)


def test_spring_forward_quiet_hours_still_end_at_nine_local() -> None:
    """The night of 28 to 29 March 2026 is an hour shorter: 09:00 CEST is 07:00 UTC, not 08:00."""
    night = berlin(2026, 3, 28, 23, 0)
    moved = decide(facts(), night, RULES)
    assert moved == Move(datetime(2026, 3, 29, 7, 0, tzinfo=UTC), Reason.QUIET_HOURS)


def test_fall_back_quiet_hours_still_end_at_nine_local() -> None:
    """The night of 24 to 25 October 2026 is an hour longer: 09:00 CET is 08:00 UTC."""
    night = berlin(2026, 10, 24, 23, 0)
    moved = decide(facts(), night, RULES)
    assert moved == Move(datetime(2026, 10, 25, 8, 0, tzinfo=UTC), Reason.QUIET_HOURS)


def test_the_daily_cap_across_the_clock_changes_uses_the_city_day() -> None:
    evening = berlin(2026, 3, 28, 20, 0)  # 19:00 UTC, still before the quiet hours
    assert decide(facts(sent_today=1), evening, RULES) == Move(
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC), Reason.DAILY_CAP
    )
    assert RULES.city_day(datetime(2026, 10, 24, 22, 30, tzinfo=UTC)) == "2026-10-25"  # 00:30 CEST


def test_a_quiet_end_that_the_spring_change_skips_is_moved_later_never_earlier() -> None:
    rules = replace(RULES, quiet_start=time(1, 0), quiet_end=time(2, 30))
    night = berlin(2026, 3, 29, 1, 30)  # 00:30 UTC; 02:30 local does not exist that night
    moved = decide(facts(), night, rules)
    assert moved == Move(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), Reason.QUIET_HOURS)  # 03:30 CEST
    assert isinstance(moved, Move) and not rules.is_quiet(moved.due_at)


def test_an_overnight_outage_keeps_a_row_that_quiet_hours_would_have_held_anyway() -> None:
    """Due at 22:30, bot down 22:00–08:30: a running bot would have sent it at 09:00, so it is not missed."""
    due = berlin(2026, 6, 10, 22, 30)
    back = berlin(2026, 6, 11, 8, 30)
    row = facts(due_at=due, down_since=berlin(2026, 6, 10, 22, 0), awake_since=back)
    assert decide(row, back, RULES) == Move(berlin(2026, 6, 11, 9, 0), Reason.QUIET_HOURS)
    later = berlin(2026, 6, 11, 16, 0)  # the bot came back only at 16:00: 7 h after the morning slot
    assert decide(replace(row, awake_since=later), later, RULES) == Skip(OUTCOME_MISSED)
