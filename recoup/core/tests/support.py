"""Fixtures every app's tests share (conftest.py loads this as a plugin): a real SMTP server on loopback
(aiosmtpd), the default dunning policy, a ledger builder, and readers that take apart what arrived the way a
mail client would (MIME parts, recipients, PDF text)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from recoup.dunning import defaults, policies
from recoup.dunning.models import DunningPolicy
from recoup.dunning.services import policy_save
from recoup.ledger import services as ledger
from recoup.ledger.models import Customer, Invoice

D = dt.date


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        return str(self.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]

    @property
    def html(self) -> str:
        return str(self.message.get_body(("html",)).get_content())  # type: ignore[union-attr]

    def attachments(self) -> list[tuple[str | None, str, Any]]:
        return [
            (p.get_filename(), p.get_content_type(), p.get_content()) for p in self.message.iter_attachments()
        ]

    def pdf_text(self) -> str:
        [(_, content_type, pdf)] = self.attachments()
        assert content_type == "application/pdf" and pdf[:5] == b"%PDF-"
        return pdf_to_text(pdf)

    def structure(self) -> list[str]:
        return [part.get_content_type() for part in self.message.walk()]


def pdf_to_text(pdf: bytes) -> str:
    """The PDF's text as poppler's pdftotext lays it out (a missing pdftotext fails under CI=true)."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext is not installed (apt-get install poppler-utils); CI=true needs it")
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode()


@dataclass
class Sink:
    """The SMTP server's side: what arrived, and answers to give instead of 250 for the next messages."""

    received: list[Received] = field(default_factory=list)
    refuse_next: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next:
            return self.refuse_next.pop(0)
        self.record(envelope)
        return "250 OK"

    def record(self, envelope: Any) -> Received:
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message)
        self.received.append(received)
        return received


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend sends to."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.DEFAULT_FROM_EMAIL = "Acme AR <ar@acme.example>"
    settings.RECOUP_COMPANY_NAME = "Acme Supplies"
    try:
        yield sink
    finally:
        controller.stop()


def default_policy() -> DunningPolicy:
    """The default policy of the migration, made again through the policy service if a flush removed it."""
    existing = DunningPolicy.objects.filter(is_default=True).first()
    if existing is not None:
        return existing
    policy, _ = policy_save(actor=None, spec=policies.parse_policy(defaults.DEFAULT_POLICY))
    return policy


class Ledger:
    """Builds customers and documents through the ledger services, so kept balances stay true."""

    def __init__(self) -> None:
        self.n = 0

    def customer(
        self,
        external_id: str,
        *,
        emails: tuple[str, ...] = ("ap@example.com",),
        currency: str = "USD",
        **fields: Any,
    ) -> Customer:
        fields.setdefault("name", f"{external_id} Ltd")
        customer = ledger.customer_create(actor=None, external_id=external_id, currency=currency, **fields)
        for n, address in enumerate(emails, start=1):
            ledger.contact_create(actor=None, customer=customer, name=f"AP {n}", email=address)
        return customer

    def invoice(
        self,
        customer: Customer,
        due: dt.date,
        amount: str = "100.00",
        *,
        currency: str | None = None,
        external_id: str | None = None,
        dunning_policy: Any = None,
    ) -> Invoice:
        self.n += 1
        return ledger.invoice_create(
            actor=None,
            customer=customer,
            external_id=external_id or f"{customer.external_id}-{self.n:03d}",
            issue_date=due - dt.timedelta(days=30),
            due_date=due,
            amount=Decimal(amount),
            currency=currency,
            dunning_policy=dunning_policy,
        )

    def pay(self, invoice: Invoice, amount: str, date: dt.date) -> None:
        self._settle(ledger.payment_create, "PAY", invoice, amount, date)

    def credit(self, invoice: Invoice, amount: str, date: dt.date) -> None:
        self._settle(ledger.credit_note_create, "CN", invoice, amount, date)

    def _settle(self, create: Any, prefix: str, invoice: Invoice, amount: str, date: dt.date) -> None:
        """A payment or credit note of `amount`, applied to `invoice` in full."""
        self.n += 1
        create(
            actor=None,
            customer=invoice.customer,
            external_id=f"{prefix}-{self.n:04d}",
            date=date,
            amount=Decimal(amount),
            apply_to=[ledger.Application(invoice, Decimal(amount))],
        )


@pytest.fixture
def books(db) -> Ledger:
    default_policy()
    return Ledger()
