"""Published ideas for citizens (issue 13): the similar-idea search worker, the board (/ideen, support) and
publication (moderation, withdrawal). Runtime side: reads and writes storage, renders with pure handlers."""
