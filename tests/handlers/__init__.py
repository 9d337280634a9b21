"""Use cases against a migrated database, and their edges over HTTP."""
