"""Slack: Bolt listeners, Block Kit, the Web API clients, OAuth installs, Socket Mode."""
