"""Every cell status and every cell of the response, idea and follow-up tables, on the hand-made dataset."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analytics.model import FieldName, Status
from bot.analytics.pseudonyms import export_pseudonym
from bot.analytics.query import ExportFilter, iter_follow_ups, iter_ideas, iter_responses, survey_versions
from bot.analytics.status import follow_up_status, question_statuses
from bot.analytics.tables import followup_table, idea_table, response_table
from bot.storage.db import Database
from surveys.schema import Survey
from tests.analytics.sample import SECRET, definition, fill

FIELDS = (FieldName("mobilitaet", "Mobilität", "Mobility"), FieldName("umwelt", "Umwelt", "Environment"),
          FieldName("verwaltung", "Verwaltung", "Administration"))
S, A, NS, NR, NO, NA = (Status.SKIPPED, Status.ANSWERED, Status.NOT_SHOWN, Status.NOT_REACHED, Status.NOT_OFFERED,
                        Status.NOT_ASKED)


def test_statuses_follow_the_route_of_show_if_and_jumps() -> None:
    v1 = Survey.model_validate(definition(1))
    car = question_statuses(v1, True, {"modus": "auto", "zufrieden": 2, "alter": None, "wunsch": None})
    assert car == {"modus": A, "linien": NS, "zufrieden": A, "2-rad": NS, "alter": S, "wunsch": S}
    bike = question_statuses(v1, True, {"modus": "rad", "linien": None, "zufrieden": 3, "2-rad": True,
                                        "alter": 14, "wunsch": "x"})
    assert bike["2-rad"] is A and bike["linien"] is S
    open_ = question_statuses(v1, False, {"modus": "auto"})
    assert open_ == {"modus": A, "linien": NS, "zufrieden": NR, "2-rad": NR, "alter": NR, "wunsch": NR}


def test_follow_up_statuses() -> None:
    assert follow_up_status("f", {"f": 3}, "sent") is A
    assert follow_up_status("f", {"f": None}, "sent") is S
    assert follow_up_status("f", {}, "sent") is NR
    assert follow_up_status("f", {}, "pending") is NA
    assert follow_up_status("f", {}, None) is NA


@pytest.fixture
def filled(database: Database) -> Database:
    fill(database)
    return database


def _table(db: Database) -> tuple[list[str], list[dict[str, Any]]]:
    with db.unit_of_work(read_only=True) as uow:
        versions = survey_versions(uow.session, "verkehr")
        codebook, rows = response_table(versions, FIELDS, iter_responses(uow.session, "verkehr", ExportFilter()),
                                        secret=SECRET, scope="verkehr")
        names = [v.name for v in codebook.variables]
        return names, [dict(zip(names, row, strict=True)) for row in rows]


def test_response_table_cell_by_cell(filled: Database) -> None:
    names, rows = _table(filled)
    assert names == [
        "respondent", "response", "version", "campaign", "channel", "completed", "started_at", "finished_at",
        "modus", "modus_status", "linien_l1", "linien_l2", "linien_l3", "linien_l4", "linien_status",
        "zufrieden", "zufrieden_status", "q_2_rad", "q_2_rad_status", "alter", "alter_status",
        "wunsch", "wunsch_field", "wunsch_score_mobilitaet", "wunsch_score_umwelt", "wunsch_score_verwaltung",
        "wunsch_status", "stadtteil", "stadtteil_status", "nachher", "nachher_status",
    ]
    bus, car, bike, unfinished, train = rows
    assert bus["respondent"] == export_pseudonym(SECRET, "c_anna", "verkehr")
    assert bus["campaign"] == "Frühjahr" and bus["channel"] == "telegram" and bus["completed"] == 1
    assert (bus["modus"], bus["linien_l1"], bus["linien_l2"], bus["linien_l3"], bus["linien_l4"]) == (1, 1, 0, 1, 0)
    assert (bus["zufrieden"], bus["q_2_rad"], bus["q_2_rad_status"], bus["alter"]) == (4, None, NS, 35)
    assert bus["wunsch"] == "Mehr Busse, Mail an [EMAIL]" and bus["wunsch_field"] == "mobilitaet"
    assert (bus["wunsch_score_mobilitaet"], bus["wunsch_score_umwelt"]) == (0.8, 0.1)
    assert (bus["stadtteil"], bus["stadtteil_status"], bus["nachher"], bus["nachher_status"]) == (None, NO, 5, A)
    assert car["modus"] == 3 and car["linien_status"] is NS and car["linien_l1"] is None
    assert (car["alter"], car["alter_status"], car["wunsch_status"], car["nachher_status"]) == (None, S, S, NR)
    assert bike["q_2_rad"] == 1 and bike["linien_status"] is S and bike["nachher_status"] is NA
    assert unfinished["completed"] == 0 and unfinished["finished_at"] is None
    assert unfinished["zufrieden_status"] is NR and unfinished["wunsch_status"] is NR
    assert (train["version"], train["modus"], train["linien_l4"], train["stadtteil"]) == (2, 4, 1, 10)
    assert train["alter_status"] is NO and train["nachher_status"] is NA
    joined = repr(rows)
    assert "c_anna" not in joined and "user-" not in joined and "resp-" not in joined


def test_codebook_documents_codes_and_versions(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        codebook, _ = response_table(survey_versions(uow.session, "verkehr"), FIELDS, [], secret=SECRET,
                                     scope="verkehr")
    variables = {v.name: v for v in codebook.variables}
    assert [(lab.code, lab.label_de) for lab in variables["stadtteil"].value_labels] == [(10, "Barmen"),
                                                                                      (20, "Elberfeld")]
    assert variables["q_2_rad"].question_id == "2-rad" and variables["alter"].versions == (1,)
    assert variables["alter"].missing_codes and variables["modus"].status_variable == "modus_status"
    assert variables["nachher"].follow_up and codebook.versions == (1, 2)


def test_idea_and_follow_up_tables(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        codebook, rows = idea_table(FIELDS, iter_ideas(uow.session, ExportFilter()), secret=SECRET)
        names = [v.name for v in codebook.variables]
        ideas = [dict(zip(names, row, strict=True)) for row in rows]
        versions = survey_versions(uow.session, "verkehr")
        codebook, rows = followup_table(versions, FIELDS, iter_follow_ups(uow.session, "verkehr", ExportFilter()),
                                        secret=SECRET, scope="verkehr")
        names = [v.name for v in codebook.variables]
        follow_ups = [dict(zip(names, row, strict=True)) for row in rows]
    assert ideas[0]["text"] == "Nachtbus bis Ronsdorf, ruft [TELEFON] an"
    assert ideas[0]["respondent"] == export_pseudonym(SECRET, "c_anna", "ideas")
    assert ideas[1]["fields"] == "umwelt|verwaltung" and ideas[1]["kept_proposal"] == 1
    assert ideas[1]["chose_umwelt"] == 1 and ideas[1]["chose_mobilitaet"] == 0
    assert ideas[2]["field_source"] == "none" and ideas[2]["field"] is None
    assert [(f["status"], f["value"]) for f in follow_ups] == [(A, 5), (NR, None), (NA, None)]
