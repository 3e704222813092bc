"""Runtime, channels, storage: everything with I/O."""
