"""Themes in production (issue 13): answer and idea embeddings made in the background, and the theme refresh.

`embedding`: a scheduled job embeds, a small batch per run and on a low-priority thread, the free-text answers that
have no (or a stale) `answer_embeddings` row and the ideas stored without embedding; `refresh`: per strategy field
`nlp.themes.find_themes` over the stored embeddings, its registry kept in `theme_registry` (stable ids), the
assignments written to `ideas.theme` and `answer_embeddings.theme`. Read side only: no dialogue state is written.
"""

from __future__ import annotations

from .embedding import EmbedReport, embed_backlog
from .refresh import RefreshReport, refresh_themes

__all__ = ["EmbedReport", "RefreshReport", "embed_backlog", "refresh_themes"]
