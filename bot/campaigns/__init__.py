"""Campaigns: staff invite opted-in citizens to a survey (service, audience, status, dry run, the bot's tick, CLI)."""

CHANNELS = ("telegram", "matrix", "terminal")
LANGUAGES = ("de", "en")
