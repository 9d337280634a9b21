"""Filters typed into a dashboard URL: control characters are dropped, never sent to the
database (PostgreSQL refuses NUL in text, which was a 500 on every page with a filter)."""

from __future__ import annotations

import httpx
import pytest

from tests.dashboard.test_dashboard import World, admin_site, world  # noqa: F401 (fixtures)


@pytest.mark.parametrize("field", ["team", "region", "value", "therapeutic_area"])
def test_a_nul_in_a_filter_is_a_page_not_a_server_error(
    admin_site: tuple[World, httpx.Client, list[str]],  # noqa: F811
    field: str,
) -> None:
    _, client, _ = admin_site
    for path in ("/dashboard/", "/dashboard/feed", "/dashboard/export/leaderboard.csv"):
        response = client.get(path, params={field: "Brand\x00'; --"})
        assert response.status_code < 500, (path, response.text[:200])
