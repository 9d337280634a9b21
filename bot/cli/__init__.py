"""The `plaudit` command."""

from bot.cli.main import main

__all__ = ["main"]
