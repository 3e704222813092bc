"""Staff in the chat: roles, the read side staff and analysts see there, idea statuses, the staff audit log."""
