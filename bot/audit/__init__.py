"""The audit trail's key, its sealer's checkpoints published outside the database."""
