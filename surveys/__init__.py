"""Survey files: schema, loader with precise errors, and the pure survey engine."""
