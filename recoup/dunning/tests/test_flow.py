"""Runs end to end over real SMTP: what arrives (MIME parts, recipients, invoices, PDF text), level
progression at day boundaries, idempotent re-runs, refused earlier dates, and everything that must stop a
reminder: payments, credit notes, disputes, promises, holds, do-not-dun."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from recoup.activity.models import EntryKind, Task, TaskKind, TimelineEntry
from recoup.activity.services import promise_create
from recoup.core.errors import DomainError
from recoup.disputes.services import dispute_open, dispute_resolve
from recoup.dunning import delivery, policies
from recoup.dunning.models import (
    DunningLevel,
    DunningRun,
    DunningStep,
    InvoiceDunning,
    MessageItem,
    MessageStatus,
    OutboundMessage,
)
from recoup.dunning.services import dunning_run, hold_create, policy_save
from recoup.ledger import services as ledger
from recoup.ledger.models import Customer
from recoup.users.models import Role, User

D = dt.date
DUE = D(2026, 3, 2)  # a Monday
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    """A fixed 'now' after every send time the tests use (ticking: the SMTP server's event loop needs it)."""
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=True) as traveller:
        yield traveller


def run(as_of: dt.date) -> dict:
    result = dunning_run(actor=None, as_of=as_of)
    delivery.deliver_due()
    return result.report


def level_of(invoice) -> str | None:
    state = InvoiceDunning.objects.filter(invoice=invoice).select_related("level").first()
    return state.level.name if state else None


# What arrives ---------------------------------------------------------------------------------------------


def test_one_email_per_customer_lists_every_invoice_at_its_level(books, smtp):
    acme = books.customer("ACME", emails=("ap@acme.example", "controller@acme.example"))
    old = books.invoice(acme, DUE - dt.timedelta(days=20), "1200.50", external_id="A-100")
    recent = books.invoice(acme, DUE, "300.00", external_id="A-101")
    books.invoice(acme, DUE + dt.timedelta(days=30), "75.00", external_id="A-102")  # not due: not listed
    other = books.customer("OTHER", emails=("pay@other.example",))
    books.invoice(other, DUE + dt.timedelta(days=20), "10.00")

    report = run(DUE + dt.timedelta(days=3))

    assert report["messages"] == {"Reminder": {"email": 1}}
    assert report["skipped"] == {"not_due": 2}
    [mail] = smtp.received
    assert sorted(mail.rcpt_tos) == ["ap@acme.example", "controller@acme.example"]
    assert mail.structure() == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/pdf",
    ]
    assert mail.message["Subject"] == "Acme Supplies: reminder, 1,500.50 USD overdue"
    assert mail.message["From"] == "Acme AR <ar@acme.example>"
    lines = [line for line in mail.text.splitlines() if line.startswith("A-1")]
    assert lines == [
        "A-100  due 2026-02-10 (23 days overdue)  1,200.50 USD  [Reminder]",
        "A-101  due 2026-03-02 (3 days overdue)  300.00 USD  [Reminder]",
    ]
    assert "Total due: 1,500.50 USD" in mail.text
    assert "A-102" not in mail.text and "A-102" not in mail.html
    assert re.search(r"A-100.*?1,200\.50 USD", mail.html, re.S)
    pdf = mail.pdf_text()
    assert re.search(r"A-100\s+2026-01-11\s+2026-02-10\s+23\s+1,200\.50 USD", pdf)
    assert re.search(
        r"A-102\s+2026-03-02\s+2026-04-01\s+—\s+75\.00 USD", pdf
    )  # the statement: every open item
    assert "Total open (USD)" in pdf and "1,575.50 USD" in pdf
    [message] = OutboundMessage.objects.filter(customer=acme)
    assert (message.status, message.channel, message.attempts) == (MessageStatus.SENT, "email", 1)
    assert mail.message["Message-ID"] == message.message_id
    assert message.message_id.endswith("@acme.example>")
    assert message.subject == mail.message["Subject"]
    assert (level_of(old), level_of(recent)) == ("Reminder", "Reminder")
    [entry] = TimelineEntry.objects.filter(customer=acme, kind=EntryKind.EMAIL_OUT)
    assert entry.title == f"Email: {mail.message['Subject']}"
    assert sorted(entry.invoices.values_list("external_id", flat=True)) == ["A-100", "A-101"]


def test_levels_move_at_exact_day_boundaries_and_one_at_a_time(books, smtp):
    customer = books.customer("STEP")
    invoice = books.invoice(customer, DUE, "500.00")
    seen = []
    for offset in (-4, -3, 0, 2, 3, 14, 15, 16):
        run(DUE + dt.timedelta(days=offset))
        seen.append((offset, level_of(invoice), len(smtp.received)))

    assert seen == [
        (-4, None, 0),  # the day before the friendly notice
        (-3, "Friendly notice", 1),  # on its offset
        (0, "Friendly notice", 1),  # the due date itself: no overdue reminder
        (2, "Friendly notice", 1),  # the day before the reminder
        (3, "Reminder", 2),
        (14, "Reminder", 2),
        (15, "Second reminder", 3),
        (16, "Second reminder", 3),
    ]
    subjects = [mail.message["Subject"] for mail in smtp.received]
    assert subjects == [
        "Acme Supplies: invoices due soon (500.00 USD)",
        "Acme Supplies: reminder, 500.00 USD overdue",
        "Acme Supplies: second reminder, 500.00 USD overdue",
    ]


def test_a_repeated_run_for_the_same_date_sends_nothing_new(books, smtp):
    customer = books.customer("TWICE")
    books.invoice(customer, DUE)
    first = run(DUE + dt.timedelta(days=20))
    for _ in range(22):  # cron every 15 minutes
        again = run(DUE + dt.timedelta(days=20))

    assert first["messages_total"] == 1
    assert again["messages_total"] == 0 and again["skipped"] == {"contacted_today": 1}
    assert len(smtp.received) == 1
    assert OutboundMessage.objects.count() == 1
    assert DunningStep.objects.count() == 1


def test_a_run_for_a_date_before_the_last_run_is_refused_and_writes_nothing(books, smtp):
    customer = books.customer("LATE")
    books.invoice(customer, DUE)
    run(DUE + dt.timedelta(days=10))
    runs = DunningRun.objects.count()

    with pytest.raises(CommandError, match=r"refused: the last run was as of 2026-03-12"):
        call_command("dunning", "run", "--as-of", "2026-03-11")
    with pytest.raises(DomainError):
        dunning_run(actor=None, as_of=D(2026, 3, 11), dry_run=True)

    assert DunningRun.objects.count() == runs
    assert len(smtp.received) == 1


def test_payment_and_credit_note_both_stop_dunning(books, smtp):
    customer = books.customer("SETTLE")
    paid = books.invoice(customer, DUE, "100.00")
    credited = books.invoice(customer, DUE, "80.00")
    run(DUE + dt.timedelta(days=3))
    books.pay(paid, "100.00", DUE + dt.timedelta(days=5))
    books.credit(credited, "80.00", DUE + dt.timedelta(days=6))

    report = run(DUE + dt.timedelta(days=15))

    assert report["messages_total"] == 0
    assert report["skipped"] == {"paid": 2}
    assert len(smtp.received) == 1  # only the first reminder


def test_a_partial_payment_leaves_the_rest_dunned(books, smtp):
    customer = books.customer("PART")
    invoice = books.invoice(customer, DUE, "100.00")
    books.pay(invoice, "60.00", DUE + dt.timedelta(days=1))

    run(DUE + dt.timedelta(days=3))

    [mail] = smtp.received
    assert "Total due: 40.00 USD" in mail.text
    assert MessageItem.objects.get().open_amount == Decimal("40.00")


def test_multi_currency_customer_gets_one_email_with_a_total_per_currency(books, smtp):
    ledger.fx_rate_set(actor=None, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.08"))
    customer = books.customer("MULTI")
    books.invoice(customer, DUE, "100.00")
    books.invoice(customer, DUE, "250.00", currency="EUR")

    report = run(DUE + dt.timedelta(days=3))

    [mail] = smtp.received
    assert "Total due: 100.00 USD" in mail.text and "Total due: 250.00 EUR" in mail.text
    assert mail.message["Subject"] == "Acme Supplies: reminder, 250.00 EUR + 100.00 USD overdue"
    assert report["fx_rates"] == [{"currency": "EUR", "rate": "1.0800000000", "date": "2026-01-01"}]


def test_tolerance_is_checked_in_the_base_currency(books, smtp):
    ledger.fx_rate_set(actor=None, currency="JPY", date=D(2026, 1, 1), rate=Decimal("0.0065"))
    customer = books.customer("YEN", currency="JPY")
    books.invoice(customer, DUE, "150")  # 0.98 USD: below the 1.00 tolerance
    books.invoice(customer, DUE, "154")  # 1.00 USD

    report = run(DUE + dt.timedelta(days=3))

    assert report["skipped"] == {"below_tolerance": 1}
    [mail] = smtp.received
    assert "Total due: 154 JPY" in mail.text


def test_a_customer_without_an_email_address_gets_a_call_task_instead(books, smtp):
    collector = User.objects.create_user(username="cara", password="x", role=Role.COLLECTOR)
    customer = books.customer("PHONE", emails=(), collector=collector)
    ledger.contact_create(actor=None, customer=customer, name="Pat", phone="+1 555 0100")
    invoice = books.invoice(customer, DUE, "90.00")

    report = run(DUE + dt.timedelta(days=3))

    assert report["messages"] == {"Reminder": {"call": 1}}
    assert smtp.received == []
    [task] = Task.objects.filter(customer=customer)
    assert (task.kind, task.owner, task.status) == (TaskKind.CALL, collector, "open")
    assert task.title == "Call PHONE Ltd: Reminder"
    assert list(task.invoices.all()) == [invoice]
    assert "90.00 USD due, 3 days past due (Reminder)" in task.description
    assert OutboundMessage.objects.get().status == MessageStatus.SENT


def test_the_call_level_creates_one_call_task_and_an_email(books, smtp):
    policy, _ = policy_save(
        actor=None,
        spec=policies.parse_policy(
            {
                "name": "Call",
                "levels": [
                    {"name": "Ring", "offset_days": 1, "channels": ["call", "email"]},
                    {"name": "Last", "offset_days": 9},
                ],
            }
        ),
    )
    customer = books.customer("RING", dunning_policy=policy)
    books.invoice(customer, DUE)

    run(DUE + dt.timedelta(days=2))
    run(DUE + dt.timedelta(days=2))

    assert len(smtp.received) == 1
    assert Task.objects.filter(customer=customer, kind=TaskKind.CALL).count() == 1


# Disputes, promises, holds --------------------------------------------------------------------------------


def test_dunning_excludes_exactly_the_disputed_amount_and_resumes_after_resolution(books, smtp):
    customer = books.customer("DISPUTE")
    whole = books.invoice(customer, DUE, "300.00", external_id="D-1")
    part = books.invoice(customer, DUE, "200.00", external_id="D-2")
    dispute = dispute_open(actor=None, invoice=whole, reason="pricing", opened_on=DUE)
    dispute_open(actor=None, invoice=part, amount="50.00", reason="quantity", opened_on=DUE)

    report = run(DUE + dt.timedelta(days=3))

    assert report["skipped"] == {"disputed": 1}
    [mail] = smtp.received
    assert "D-1" not in mail.text
    assert (
        "D-2  due 2026-03-02 (3 days overdue)  150.00 USD  (open 200.00 USD, disputed 50.00 USD)" in mail.text
    )
    assert "Under dispute, not requested: 50.00 USD" in mail.text
    assert level_of(whole) is None

    dispute_resolve(actor=None, dispute=dispute, outcome="rejected", resolved_on=DUE + dt.timedelta(days=9))
    run(DUE + dt.timedelta(days=10))

    assert level_of(whole) == "Reminder"  # resumes from its own level: the first overdue one
    assert "D-1  due 2026-03-02 (10 days overdue)  300.00 USD" in smtp.received[-1].text


def test_a_pending_promise_pauses_dunning_until_its_date_plus_grace(books, smtp):
    customer = books.customer("PROMISE")
    invoice = books.invoice(customer, DUE, "400.00")
    promise_create(
        actor=None,
        customer=customer,
        amount="400.00",
        promised_date=DUE + dt.timedelta(days=5),
        invoices=[invoice],
        grace_days=3,
    )

    paused = run(DUE + dt.timedelta(days=8))
    resumed = run(DUE + dt.timedelta(days=9))

    assert paused["skipped"] == {"promised": 1} and paused["messages_total"] == 0
    assert resumed["messages_total"] == 1
    assert len(smtp.received) == 1


@pytest.mark.parametrize("scope", ["customer", "invoice", "do_not_dun"])
def test_holds_and_do_not_dun_stop_reminders(books, smtp, scope):
    customer = books.customer("HOLD")
    invoice = books.invoice(customer, DUE)
    if scope == "do_not_dun":
        ledger.customer_update(actor=None, customer=customer, do_not_dun=True)
    else:
        hold_create(
            actor=None, customer=customer, invoice=invoice if scope == "invoice" else None, reason="talks"
        )

    report = run(DUE + dt.timedelta(days=5))

    assert report["skipped"] == {"do_not_dun" if scope == "do_not_dun" else "on_hold": 1}
    assert smtp.received == [] and OutboundMessage.objects.count() == 0


def test_money_paid_after_the_run_but_before_the_send_is_never_dunned(books, smtp, clock):
    customer = books.customer("RACE", timezone="America/New_York")
    invoice = books.invoice(customer, DUE, "100.00")
    clock.move_to(dt.datetime(2026, 3, 5, 6, 0, tzinfo=dt.UTC))  # before 09:00 in New York
    dunning_run(actor=None, as_of=DUE + dt.timedelta(days=3))
    assert delivery.deliver_due().counts == {}  # not due until 14:00 UTC

    books.pay(invoice, "100.00", DUE + dt.timedelta(days=3))
    clock.move_to(dt.datetime(2026, 3, 5, 14, 1, tzinfo=dt.UTC))
    result = delivery.deliver_due()

    assert result.counts == {"cancelled": 1}
    assert smtp.received == []
    message = OutboundMessage.objects.get()
    assert message.status == MessageStatus.CANCELLED
    assert message.last_error == f"nothing left to remind about ({invoice.external_id} no longer due)"


def test_one_sent_reminder_leaves_the_other_invoices_and_customers_alone(books, smtp):
    first = books.customer("FIRST")
    second = books.customer("SECOND")
    a = books.invoice(first, DUE)
    b = books.invoice(second, DUE + dt.timedelta(days=10))

    run(DUE + dt.timedelta(days=3))

    assert (level_of(a), level_of(b)) == ("Reminder", None)
    assert [mail.rcpt_tos for mail in smtp.received] == [["ap@example.com"]]


# Time zones and business days -----------------------------------------------------------------------------


def test_sends_happen_at_the_local_time_on_the_customers_business_days(books, smtp, clock):
    cases = {
        "NZ": ("Pacific/Auckland", "NZ", D(2026, 7, 1)),  # Wednesday
        "LA": ("America/Los_Angeles", "US", D(2026, 7, 1)),
        "PARIS": ("Europe/Paris", "FR", D(2026, 7, 14)),  # Bastille Day, a Tuesday
        "WEEKEND": ("Europe/London", "GB", D(2026, 7, 4)),  # a Saturday
    }
    at = {}
    for name, (zone, country, as_of) in sorted(cases.items(), key=lambda case: case[1][2]):
        customer = books.customer(name, timezone=zone, country=country)
        books.invoice(customer, D(2026, 6, 1))
        clock.move_to(dt.datetime.combine(as_of, dt.time(1, 0), tzinfo=dt.UTC))  # the run, early that day
        dunning_run(actor=None, as_of=as_of)
        at[name] = OutboundMessage.objects.get(customer__external_id=name, as_of=as_of).send_at

    assert at == {
        "NZ": dt.datetime(2026, 6, 30, 21, 0, tzinfo=dt.UTC),  # 09:00 on 1 July in Auckland
        "LA": dt.datetime(2026, 7, 1, 16, 0, tzinfo=dt.UTC),
        "PARIS": dt.datetime(2026, 7, 15, 7, 0, tzinfo=dt.UTC),  # the day after the holiday
        "WEEKEND": dt.datetime(2026, 7, 6, 8, 0, tzinfo=dt.UTC),  # Monday
    }


# Policies, jumping, actions -------------------------------------------------------------------------------


def test_the_invoices_policy_wins_over_the_customers_which_wins_over_the_default(books, smtp):
    def policy(name: str, offset: int):
        spec = policies.parse_policy(
            {
                "name": name,
                "levels": [
                    {"name": f"{name} 1", "offset_days": offset},
                    {"name": f"{name} 2", "offset_days": 50},
                ],
            }
        )
        return policy_save(actor=None, spec=spec)[0]

    customer_policy = policy("Customer's", 2)
    invoice_policy = policy("Invoice's", 1)
    by_customer = books.customer("BYCUST", dunning_policy=customer_policy)
    plain = books.customer("PLAIN")
    on_invoice = books.invoice(by_customer, DUE, dunning_policy=invoice_policy)
    on_customer = books.invoice(by_customer, DUE)
    on_default = books.invoice(plain, DUE)

    run(DUE + dt.timedelta(days=3))

    assert (level_of(on_invoice), level_of(on_customer), level_of(on_default)) == (
        "Invoice's 1",
        "Customer's 1",
        "Reminder",
    )
    [by_customer_mail] = [m for m in smtp.received if m.rcpt_tos == ["ap@example.com"] and "BYCUST" in m.text]
    assert "[Invoice's 1]" in by_customer_mail.text and "[Customer's 1]" in by_customer_mail.text


def test_a_policy_that_opts_in_jumps_to_the_highest_level_due(books, smtp):
    spec = policies.parse_yaml(
        "name: Jumpy\nallow_level_jump: true\nlevels:\n"
        "  - {name: First reminder, offset_days: 5, channels: [email]}\n"
        "  - {name: Second reminder, offset_days: 20, channels: [email]}\n"
        "  - {name: Final notice, offset_days: 40, channels: [email]}\n"
    )
    policy, _ = policy_save(actor=None, spec=spec)
    customer = books.customer("JUMP", dunning_policy=policy)
    invoice = books.invoice(customer, DUE)

    run(DUE + dt.timedelta(days=60))
    first = level_of(invoice)
    run(DUE + dt.timedelta(days=61))

    assert (first, level_of(invoice)) == ("Second reminder", "Final notice")  # never a first final notice
    assert smtp.received[-1].message["Subject"] == "Acme Supplies: final notice, 100.00 USD overdue"


def test_escalation_creates_one_manager_task_and_a_credit_hold(books, smtp):
    customer = books.customer("ESC")
    invoice = books.invoice(customer, DUE)
    state_level = DunningLevel.objects.get(policy__is_default=True, position=5)
    InvoiceDunning.objects.create(invoice=invoice, level=state_level, moved_on=DUE + dt.timedelta(days=45))

    report = run(DUE + dt.timedelta(days=60))
    run(DUE + dt.timedelta(days=61))

    assert report["actions"] == {"tasks": 1, "credit_holds": 1}
    assert report["messages_total"] == 0  # escalation has no channel of its own
    [task] = Task.objects.filter(customer=customer)
    assert (task.kind, task.role, task.owner, task.title) == (
        TaskKind.ESCALATION,
        "manager",
        None,
        "Escalation: review ESC Ltd",
    )
    assert Customer.objects.get(pk=customer.pk).on_hold is True
    assert TimelineEntry.objects.filter(customer=customer, kind=EntryKind.CREDIT_HOLD).count() == 1


def test_a_letter_is_rendered_to_a_stored_pdf(books, smtp):
    spec = policies.parse_policy(
        {"name": "Paper", "levels": [{"name": "Letter", "offset_days": 3, "channels": ["letter"]}]}
    )
    policy, _ = policy_save(actor=None, spec=spec)
    customer = books.customer("PAPER", dunning_policy=policy)
    books.invoice(customer, DUE, "321.00", external_id="P-1")

    run(DUE + dt.timedelta(days=3))

    message = OutboundMessage.objects.get()
    assert (message.channel, message.status) == ("letter", MessageStatus.SENT)
    from recoup.core.tests.support import pdf_to_text

    with message.document.open("rb") as handle:
        text = pdf_to_text(handle.read())
    assert "Dear AP 1," in text and "P-1" in text and "321.00 USD" in text
    assert smtp.received == []
