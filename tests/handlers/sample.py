"""A survey written for the dialogue tests: every question type, a show_if branch and a jump.

Routes: rad → rad_gut → themen → minuten → wunsch; bus → bus_note → themen → …; auto → (jump) minuten → wunsch.
"""

from __future__ import annotations

from typing import Any

from surveys.schema import Survey

SAMPLE: dict[str, Any] = {
    "id": "verkehr-test",
    "title": {"de": "Unterwegs in der Stadt", "en": "Getting around town"},
    "description": {"de": "Fünf kurze Fragen zum Verkehr.", "en": "Five short questions on traffic."},
    "intro": {"de": "Schön, dass Sie mitmachen.", "en": "Great that you take part."},
    "closing": {"de": "Danke fürs Mitmachen!", "en": "Thanks for taking part!"},
    "questions": [
        {
            "id": "verkehr",
            "type": "single_choice",
            "text": {"de": "Wie sind Sie meistens unterwegs?", "en": "How do you usually get around?"},
            "options": [
                {"id": "rad", "text": {"de": "Fahrrad", "en": "Bicycle"}},
                {"id": "bus", "text": {"de": "Bus", "en": "Bus"}},
                {"id": "auto", "text": {"de": "Auto", "en": "Car"}},
            ],
            "jumps": [{"when": {"question": "verkehr", "equals": "auto"}, "to": "minuten"}],
        },
        {
            "id": "rad_gut",
            "type": "yes_no",
            "text": {"de": "Sind die Radwege gut?", "en": "Are the cycle paths good?"},
            "show_if": {"question": "verkehr", "equals": "rad"},
        },
        {
            "id": "bus_note",
            "type": "scale",
            "text": {"de": "Wie zufrieden sind Sie mit dem Bus?", "en": "How satisfied are you with the bus?"},
            "show_if": {"question": "verkehr", "equals": "bus"},
            "scale": {"min": 1, "max": 5, "labels": {1: {"de": "gar nicht", "en": "not at all"}, 5: "sehr"}},
        },
        {
            "id": "themen",
            "type": "multiple_choice",
            "text": {"de": "Welche Themen sind Ihnen wichtig?", "en": "Which topics matter to you?"},
            "max_choices": 2,
            "options": [
                {"id": "sicherheit", "text": {"de": "Sicherheit", "en": "Safety"}},
                {"id": "takt", "text": {"de": "Takt", "en": "Frequency"}},
                {"id": "preis", "text": {"de": "Preis", "en": "Price"}},
            ],
        },
        {
            "id": "minuten",
            "type": "number",
            "text": {"de": "Wie viele Minuten brauchen Sie zur Arbeit?", "en": "How many minutes to work?"},
            "integer": True,
            "min": 0,
            "max": 120,
            "unit": {"de": "Minuten", "en": "minutes"},
            "required": False,
        },
        {
            "id": "wunsch",
            "type": "free_text",
            "text": {"de": "Was wünschen Sie sich?", "en": "What do you wish for?"},
            "max_length": 50,
            "required": False,
        },
    ],
}


def sample_survey(**changes: Any) -> Survey:
    """The sample survey, optionally with top-level fields changed (e.g. another id)."""
    return Survey.model_validate({**SAMPLE, **changes})
