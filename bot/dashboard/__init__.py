"""The web dashboard: leaderboard, recognition feed, reviews, audit trail, PV cases and CSV
exports, server-rendered and mounted into the main ASGI app at /dashboard."""

from bot.dashboard.app import dashboard_app
from bot.dashboard.config import DashboardConfig, OidcConfig

__all__ = ["DashboardConfig", "OidcConfig", "dashboard_app"]
