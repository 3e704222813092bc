"""Outreach on the time axis: which due follow_ups rows may reach a citizen now (policy), claiming them (claims),
and the staff's `stadtdialog followups` commands (cli)."""
