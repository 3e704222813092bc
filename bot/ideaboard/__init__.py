"""Published ideas for citizens (issue 13): the similar-idea search worker and the board (/ideen, support) —
search.py, board.py, store.py — and publication (moderation, withdrawal) — publication.py. Runtime side: reads and
writes storage, renders with pure handlers."""
