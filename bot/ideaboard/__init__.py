"""The idea board: similar ideas, publication and support (issue 13)."""
