"""Survey files: every kind of mistake staff can make is reported with file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from surveys.loader import (
    MAX_FILE_BYTES,
    Problem,
    SurveyError,
    content_hash,
    load_directory,
    load_survey,
    load_survey_text,
    validate_file,
)
from tests.surveys.conftest import LIBRARY, LIBRARY_FILES, only_problem, problems_of

VALID = textwrap.dedent(
    """\
    id: parken
    field: mobilitaet
    title: Parken im Quartier
    questions:
      - id: auto
        type: yes_no
        text: Haben Sie ein Auto?
      - id: stellplatz
        type: single_choice
        text: Wo parken Sie meistens?
        show_if: {question: auto, equals: true}
        options:
          - id: strasse
            text: Auf der Straße
          - id: garage
            text: In einer Garage
    """
)


def test_valid_text_loads() -> None:
    survey = load_survey_text(VALID, "parken.yaml")
    assert survey.id == "parken"
    assert [q.id for q in survey.questions] == ["auto", "stellplatz"]


@pytest.mark.parametrize("file", LIBRARY_FILES, ids=lambda p: p.name)
def test_every_library_survey_validates(file: Path) -> None:
    assert validate_file(file) == []


def test_library_surveys_together_cover_every_question_type_and_branching() -> None:
    surveys, problems = load_directory(LIBRARY)
    assert problems == []
    assert len(surveys) >= 3
    for _, survey in surveys:
        assert 5 <= len(survey.questions) <= 8
        assert any(q.show_if for q in survey.questions), survey.id
        assert any(q.jumps for q in survey.questions), survey.id
        assert survey.field in {"verwaltung", "mobilitaet", "wuppertalerinnen", "umwelt", "leben", "wirtschaft"}
        assert survey.description is not None
        assert all(q.text.en for q in survey.questions), survey.id
    types = {q.type.value for _, s in surveys for q in s.questions}
    assert types == {"single_choice", "multiple_choice", "scale", "yes_no", "number", "free_text"}


def test_problem_reads_file_line_field_message() -> None:
    problem = Problem("mobilitaet.yaml", 23, "questions[2].options[1].id", "bad id")
    assert str(problem) == "mobilitaet.yaml:23: questions[2].options[1].id: bad id"
    assert str(Problem("a.yaml", None, "", "file is empty")) == "a.yaml: file is empty"


def test_invalid_id_names_line_and_field() -> None:
    problem = only_problem(VALID.replace("id: garage", "id: Tief Garage"))
    assert (problem.file, problem.line, problem.field) == ("parken.yaml", 15, "questions[1].options[1].id")
    assert "'Tief Garage' is not a valid id" in problem.message


def test_unknown_key_is_reported_with_a_suggestion() -> None:
    problem = only_problem(VALID.replace("    text: Haben Sie ein Auto?", "    txt: Haben Sie ein Auto?\n    text: x"))
    assert (problem.line, problem.field) == (7, "questions[0].txt")
    assert "did you mean 'text'" in problem.message


def test_duplicate_key_is_reported_at_the_second_occurrence() -> None:
    problem = only_problem(VALID.replace("title: Parken im Quartier\n", "title: Parken im Quartier\ntitle: Parken\n"))
    assert (problem.line, problem.field) == (4, "title")
    assert "first on line 3" in problem.message


def test_wrong_type_is_reported_at_its_line() -> None:
    problem = only_problem(VALID.replace("type: single_choice", "type: dropdown"))
    assert (problem.line, problem.field) == (9, "questions[1].type")
    assert "'dropdown' is not a question type" in problem.message


def test_yaml_boolean_where_text_is_expected_explains_the_quotes() -> None:
    problem = only_problem(VALID.replace("id: garage", "id: no"))
    assert problem.field == "questions[1].options[1].id"
    assert "put it in quotes" in problem.message


def test_missing_key_points_at_the_enclosing_block() -> None:
    problem = only_problem(VALID.replace("    text: Haben Sie ein Auto?\n", ""))
    assert (problem.line, problem.field) == (5, "questions[0].text")
    assert "missing" in problem.message


def test_rule_of_a_question_type_is_reported_on_that_question() -> None:
    problem = only_problem(VALID.replace("    type: yes_no\n", "    type: yes_no\n    max_length: 10\n"))
    assert (problem.line, problem.field) == (5, "questions[0]")
    assert "'max_length' only applies to free_text" in problem.message


def test_reference_to_unknown_question_names_the_exact_field() -> None:
    problem = only_problem(VALID.replace("{question: auto, equals: true}", "{question: autos, equals: true}"))
    assert (problem.line, problem.field) == (11, "questions[1].show_if.question")
    assert "autos" in problem.message


def test_condition_value_the_question_can_never_have_is_reported() -> None:
    problem = only_problem(VALID.replace("equals: true}", "equals: ja}"))
    assert problem.field == "questions[1].show_if.equals"
    assert "true or false" in problem.message


def test_condition_on_a_misspelt_option_id_is_reported() -> None:
    text = (
        VALID
        + "  - id: kosten\n    type: yes_no\n    text: Zu teuer?\n    show_if: {question: stellplatz, equals: garag}\n"
    )
    problem = only_problem(text)
    assert (problem.line, problem.field) == (20, "questions[2].show_if.equals")
    assert "options: strasse, garage" in problem.message


def test_backward_jump_and_duplicate_question_id_are_both_reported() -> None:
    text = VALID + textwrap.indent(
        textwrap.dedent(
            """\
            - id: auto
              type: yes_no
              text: Noch einmal?
              jumps:
                - when: {question: stellplatz, answered: true}
                  to: stellplatz
            """
        ),
        "  ",
    )
    problems = problems_of(text)
    assert [(p.line, p.field) for p in problems] == [(17, "questions[2].id"), (22, "questions[2].jumps[0].to")]


def test_all_problems_are_reported_at_once() -> None:
    text = VALID.replace("id: parken", "id: Parken!").replace("type: yes_no", "type: ja_nein")
    text = text.replace("id: garage", "id: strasse")
    fields = {p.field for p in problems_of(text)}
    assert {"id", "questions[0].type", "questions[1]"} <= fields


def test_yaml_syntax_error_has_the_line_of_the_mistake() -> None:
    problem = only_problem(VALID.replace("text: Auf der Straße", "text: [Auf der Straße"))
    assert problem.line is not None and problem.line >= 14
    assert problem.message.startswith("YAML syntax error")


def test_tab_indentation_is_a_syntax_error_with_line() -> None:
    problem = only_problem(VALID.replace("  - id: auto", "\t- id: auto"))
    assert problem.line == 5


def test_empty_file() -> None:
    assert only_problem("# nur ein Kommentar\n").message == "file is empty"


def test_top_level_must_be_a_mapping() -> None:
    problem = only_problem("- id: parken\n- title: x\n")
    assert problem.line == 1
    assert "top level must be a mapping" in problem.message


def test_several_documents_are_a_syntax_error() -> None:
    assert only_problem(VALID + "---\nid: zweites\n").message.startswith("YAML syntax error")


def test_recursive_alias_is_rejected() -> None:
    assert "refers to itself" in only_problem("id: x\ntitle: &t [*t]\n").message


def test_alias_bomb_is_rejected() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    assert "too many aliases" in only_problem("\n".join(lines) + "\n").message


def test_unreadable_date_value_is_a_problem_not_a_crash() -> None:
    problem = only_problem(VALID.replace("title: Parken im Quartier", "title: 2021-13-45"))
    assert "cannot be read" in problem.message


def test_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "latin.yaml"
    file.write_bytes(VALID.replace("Straße", "Stra\u00dfe").encode("latin-1"))
    [problem] = validate_file(file)
    assert (problem.file, problem.line) == ("latin.yaml", 14)
    assert "UTF-8" in problem.message


def test_file_over_one_megabyte_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "gross.yaml"
    file.write_text(VALID + "# " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    [problem] = validate_file(file)
    assert "too large" in problem.message


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    [problem] = validate_file(tmp_path / "fehlt.yaml")
    assert problem.file == "fehlt.yaml"
    assert "cannot read" in problem.message


def test_load_survey_raises_survey_error_for_a_bad_file(tmp_path: Path) -> None:
    file = tmp_path / "kaputt.yaml"
    file.write_text("id: [\n", encoding="utf-8")
    with pytest.raises(SurveyError) as caught:
        load_survey(file)
    assert str(caught.value).startswith("kaputt.yaml:")


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    file = tmp_path / "bom.yaml"
    file.write_bytes(b"\xef\xbb\xbf" + VALID.encode("utf-8"))
    assert load_survey(file).id == "parken"


def test_content_hash_ignores_comments_layout_and_key_order() -> None:
    reordered = VALID.replace(
        "id: parken\nfield: mobilitaet\ntitle: Parken im Quartier\n",
        "# Kommentar\ntitle:   {de: Parken im Quartier}\n\nfield: mobilitaet\nid: parken\n",
    )
    assert content_hash(load_survey_text(reordered, "a.yaml")) == content_hash(load_survey_text(VALID, "b.yaml"))


def test_content_hash_changes_with_the_content() -> None:
    changed = VALID.replace("In einer Garage", "In der Garage")
    assert content_hash(load_survey_text(changed, "a.yaml")) != content_hash(load_survey_text(VALID, "a.yaml"))


def test_directory_loads_yaml_files_sorted_and_reports_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(VALID.replace("id: parken", "id: parken-b"), encoding="utf-8")
    (tmp_path / "a.yml").write_text(VALID, encoding="utf-8")
    (tmp_path / "c.yaml").write_text("id: [", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a survey", encoding="utf-8")
    surveys, problems = load_directory(tmp_path)
    assert [(path.name, survey.id) for path, survey in surveys] == [("a.yml", "parken"), ("b.yaml", "parken-b")]
    assert [p.file for p in problems] == ["c.yaml"]


def test_duplicate_survey_id_across_files_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# copy\n" + VALID, encoding="utf-8")
    surveys, problems = load_directory(tmp_path)
    assert [path.name for path, _ in surveys] == ["a.yaml"]
    [problem] = problems
    assert (problem.file, problem.line, problem.field) == ("b.yaml", 2, "id")
    assert "a.yaml" in problem.message


def test_missing_directory_is_a_problem(tmp_path: Path) -> None:
    surveys, problems = load_directory(tmp_path / "nirgends")
    assert surveys == []
    assert len(problems) == 1


def test_documentation_example_is_a_valid_survey() -> None:
    docs = (LIBRARY.parents[1] / "docs" / "surveys.md").read_text(encoding="utf-8")
    start = docs.index("```yaml\n# Comments") + len("```yaml\n")
    survey = load_survey_text(docs[start : docs.index("```", start)], "docs.yaml")
    assert len(survey.questions) == 5
