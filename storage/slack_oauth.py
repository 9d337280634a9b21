"""Slack installs: the statements Plaudit runs itself on the tables slack_sdk's installation
and state stores keep (a workspace's bot token, how many are installed, forgetting one, and
install-link states consumed once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, desc, distinct, func, select

from storage.models import slack_bots, slack_installations, slack_oauth_states


def bot_token(*, conn: Connection, client_id: str, team_id: str) -> str | None:
    """The newest bot token of a workspace, whatever Enterprise Grid it belongs to (an
    outbox row knows its team only)."""
    query = (
        select(slack_bots.c.bot_token)
        .where(
            slack_bots.c.client_id == client_id,
            slack_bots.c.team_id == team_id,
            slack_bots.c.bot_token.is_not(None),
        )
        .order_by(desc(slack_bots.c.installed_at), desc(slack_bots.c.id))
        .limit(1)
    )
    token = conn.execute(query).scalar()
    return str(token) if token else None


def installed_workspaces(*, conn: Connection, client_id: str) -> int:
    """How many workspaces have the app installed (with a bot token)."""
    query = select(func.count(distinct(slack_bots.c.team_id))).where(
        slack_bots.c.client_id == client_id, slack_bots.c.bot_token.is_not(None)
    )
    return int(conn.execute(query).scalar() or 0)


def forget_workspace(*, conn: Connection, client_id: str, team_id: str) -> None:
    """Delete every bot and installation of a workspace."""
    for table in (slack_bots, slack_installations):
        conn.execute(
            delete(table).where(table.c.client_id == client_id, table.c.team_id == team_id)
        )


def consume_state(*, conn: Connection, state: str, now: datetime) -> bool:
    """Delete an install-link state unless it expired by `now` (naive UTC, as the store
    writes it); True when it was there. One DELETE, so of two racing callbacks only one
    gets it."""
    table = slack_oauth_states
    gone = conn.execute(delete(table).where(table.c.state == state, table.c.expire_at > now))
    return bool(gone.rowcount)


def purge_states(*, conn: Connection, expired_before: datetime) -> None:
    """Delete the install-link states that expired before `expired_before` (naive UTC)."""
    table = slack_oauth_states
    conn.execute(delete(table).where(table.c.expire_at < expired_before))
