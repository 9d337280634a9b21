"""Senders that deliver drug-safety cases outside chat: webhook and email."""
