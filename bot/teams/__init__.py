"""Microsoft Teams: the activity handler, Adaptive Cards, the Bot Connector sender."""
