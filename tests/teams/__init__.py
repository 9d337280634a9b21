"""Teams over real HTTP against the fake Bot Connector; the app package."""
