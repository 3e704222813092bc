"""Strategy-field taxonomy and (later) the spaCy classifier."""
