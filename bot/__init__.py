"""The outer ring: Slack, HTTP, outbox delivery, CLI and settings."""
