"""Delivers outbox rows addressed to a mailbox (drug safety) through an SMTP server."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any

from bot.jobs.outbox import Job, Transient
from bot.settings import Settings
from handlers.messages import Template, renderer


class EmailSender:
    """Sends one plain-text email per PV case; every failure is retried."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self.settings = settings

    async def __call__(self, job: Job) -> str | None:
        message = render(job, sender=self.settings.smtp_from)
        try:
            return await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc

    def _send(self, message: EmailMessage) -> str:
        s = self.settings
        assert s.smtp_host is not None
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=15) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user and s.smtp_password:
                smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
            smtp.send_message(message)
        return str(message["Message-ID"])


def pv_case(data: Mapping[str, Any]) -> tuple[str, str]:
    """The subject and plain-text body of a PV case email."""
    rules = data.get("rules")
    subject = f"PV case #{data['case_id']}: possible adverse event reported via Plaudit"
    body = "\n".join(
        [
            f"Case: {data['case_id']}",
            f"Day 0 (company aware): {data['aware_at']}",
            f"Source: {data['source']}",
            f"Reporter: {data['reporter']}",
            f"Rules: {', '.join(str(r) for r in rules) if isinstance(rules, list) else ''}",
            "",
            "Text as written:",
            str(data["text"]),
        ]
    )
    return subject, body


RENDERERS: Mapping[Template, Callable[[Mapping[str, Any]], tuple[str, str]]] = {
    Template.PV_CASE: pv_case,
}


def render(job: Job, *, sender: str) -> EmailMessage:
    subject, body = renderer(RENDERERS, job.template, "email")(job.data)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = str(job.data["to"])
    message["Subject"] = subject
    # The outbox row id makes the id stable across retries, so a mail system can drop repeats.
    message["Message-ID"] = f"<plaudit-outbox-{job.id}@plaudit>"
    message.set_content(body)
    return message
