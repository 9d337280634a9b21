"""Slack over real HTTP, Socket Mode and OAuth, against the fake Web API."""
