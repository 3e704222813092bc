"""The pure dialogue core: no I/O, no database, no network, no spaCy."""
