"""An admin takes a published kudos back from the feed: the form needs the session's CSRF
token, the kudos leaves the feed and the boards, and the audit names the admin; members
see no such form and may not post it; what cannot be taken back is said, and changes
nothing."""

from __future__ import annotations

from sqlmodel import select

from storage.models import AuditEntry, Recognition
from tests.dashboard.test_dashboard import World, csrf_of, world

__all__ = ["world"]  # the fixture, imported for these tests


def test_an_admin_takes_a_kudos_back_from_the_feed(world: World) -> None:
    site = world.serve()
    ada = site.client("ada")
    page = ada.get("/dashboard/feed")
    number = world.ids["site"]
    assert f'action="/dashboard/feed/{number}/retract"' in page.text
    assert "for the site activation email" in page.text

    done = ada.post(
        f"/dashboard/feed/{number}/retract",
        data={"csrf": csrf_of(page), "reason": "sent to the wrong Bob"},
        follow_redirects=True,
    )
    assert done.status_code == 200 and f"Kudos #{number} taken back." in done.text
    assert "for the site activation email" not in done.text
    with world.db() as s:
        recognition = s.get(Recognition, number)
        assert recognition is not None and recognition.revoked_at is not None
        [entry] = s.exec(select(AuditEntry).where(AuditEntry.action == "kudos.retracted"))
    assert entry.actor == "dashboard:ada@example.com"
    assert entry.detail["by"] == "admin" and entry.detail["reason"] == "sent to the wrong Bob"

    again = ada.post(f"/dashboard/feed/{number}/retract", data={"csrf": csrf_of(page)})
    assert again.status_code == 409 and "already taken back" in again.text
    held = ada.post(f"/dashboard/feed/{world.ids['held']}/retract", data={"csrf": csrf_of(page)})
    assert held.status_code == 409 and "was not published" in held.text
    missing = ada.post("/dashboard/feed/999999/retract", data={"csrf": csrf_of(page)})
    assert missing.status_code == 404


def test_members_see_no_form_and_may_not_post_it(world: World) -> None:
    site = world.serve()
    alice = site.client("alice")
    page = alice.get("/dashboard/feed")
    assert "/retract" not in page.text
    number = world.ids["site"]
    refused = alice.post(f"/dashboard/feed/{number}/retract", data={"csrf": csrf_of(page)})
    assert refused.status_code == 403
    ada = site.client("ada")
    forged = ada.post(f"/dashboard/feed/{number}/retract", data={"csrf": "0" * 64})
    assert forged.status_code in (400, 403)
    with world.db() as s:
        recognition = s.get(Recognition, number)
        assert recognition is not None and recognition.revoked_at is None
