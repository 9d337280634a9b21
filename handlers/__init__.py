"""Use cases: synchronous, typed and platform-neutral."""
