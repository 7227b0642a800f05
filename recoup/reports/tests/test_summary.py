"""The weekly summary, end to end: `recoup reports weekly-summary` on Monday 2026-03-23 emails the summary
of the ISO week 2026-W12 (03-16 to 03-22) to each active manager and admin through the notification outbox
and a real SMTP server, with every figure worked out by hand; a second run in the same week sends nothing.

The ledger (USD base; EUR→USD 1.20 from 2026-01-01, 1.25 from 2026-03-20; issued 30 days before due):

| customer | invoice | due        | amount   | what happens                                   |
|----------|---------|------------|----------|------------------------------------------------|
| ACME     | A1      | 2026-02-01 | 1000 USD | 400 paid 03-10 (W11), 100 paid 03-17 (W12)     |
|          | A2      | 2026-03-31 |  500 USD | open (issued 03-01)                            |
| EURO     | E1      | 2026-02-15 | 1000 EUR | 200 EUR paid 03-20 (W12) at 1.25               |
| BETA     | B1      | 2026-01-15 |  300 USD | open; disputed (pricing, 10 days) since 03-05  |
| GAMMA    | G1      | 2026-03-01 |  200 USD | open; disputed (not received, 7 days) 03-12    |
| DELTA    | D1      | 2026-03-10 |  150 USD | open; disputed (tax, 10 days) since 03-20      |
| EPSI     | X1      | 2026-03-20 |  100 USD | open                                           |
|          | X2      | 2026-03-18 |   80 USD | credit note 80 on 03-19                        |
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command

from recoup.core.models import Notification, NotificationStatus
from recoup.disputes import services as disputes
from recoup.disputes.defaults import install_reasons
from recoup.ledger import services
from recoup.reports import summary, tasks
from recoup.users.models import Role, User

pytestmark = pytest.mark.django_db
D = dt.date
MONDAY = dt.datetime(2026, 3, 23, 7, 30, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


@pytest.fixture
def people(db):
    def user(username: str, role: str, email: str, **fields: Any) -> User:
        return User.objects.create_user(username, email=email, role=role, **fields)

    return {
        "mary": user("mary", Role.MANAGER, "mary@acme.example", first_name="Mary", last_name="Major"),
        "adam": user("adam", Role.ADMIN, "adam@acme.example"),
        "ann": user("ann", Role.COLLECTOR, "ann@acme.example"),
        "nomail": user("nomail", Role.MANAGER, ""),
        "gone": user("gone", Role.MANAGER, "gone@acme.example", is_active=False),
        "vic": user("vic", Role.VIEWER, "vic@acme.example"),
    }


@pytest.fixture
def ledger(books, people, settings):
    settings.BASE_CURRENCY = "USD"
    settings.RECOUP_BASE_URL = "https://recoup.example.com/"
    settings.RECOUP_COMPANY_NAME = "Acme Supplies"
    install_reasons()
    for date, rate in ((D(2026, 1, 1), "1.20"), (D(2026, 3, 20), "1.25")):
        services.fx_rate_set(actor=None, currency="EUR", date=date, rate=Decimal(rate))
    acme, euro, beta, gamma, delta, epsi = (
        books.customer(name, currency="EUR" if name == "EURO" else "USD")
        for name in ("ACME", "EURO", "BETA", "GAMMA", "DELTA", "EPSI")
    )
    a1 = books.invoice(acme, D(2026, 2, 1), "1000.00", external_id="A1")
    books.invoice(acme, D(2026, 3, 31), "500.00", external_id="A2")
    e1 = books.invoice(euro, D(2026, 2, 15), "1000.00", external_id="E1")
    b1 = books.invoice(beta, D(2026, 1, 15), "300.00", external_id="B1")
    g1 = books.invoice(gamma, D(2026, 3, 1), "200.00", external_id="G1")
    d1 = books.invoice(delta, D(2026, 3, 10), "150.00", external_id="D1")
    books.invoice(epsi, D(2026, 3, 20), "100.00", external_id="X1")
    x2 = books.invoice(epsi, D(2026, 3, 18), "80.00", external_id="X2")
    books.pay(a1, "400.00", D(2026, 3, 10))
    books.pay(a1, "100.00", D(2026, 3, 17))
    books.pay(e1, "200.00", D(2026, 3, 20))
    books.credit(x2, "80.00", D(2026, 3, 19))
    mary = people["mary"]
    late_b = disputes.dispute_open(
        actor=mary, invoice=b1, reason="pricing", opened_on=D(2026, 3, 5), owner=people["ann"]
    )
    late_g = disputes.dispute_open(actor=mary, invoice=g1, reason="not_received", opened_on=D(2026, 3, 12))
    disputes.dispute_open(actor=mary, invoice=d1, reason="tax", opened_on=D(2026, 3, 20))
    Notification.objects.all().delete()  # the disputes' own notices to their owners: not this test's
    return {"late": (late_b, late_g), **people}


def body(received) -> str:
    """The text part as the user reads it: SMTP carries its lines with CRLF."""
    return received.text.replace("\r\n", "\n")


CEI_FORMULA = "((begin AR + sales − end AR) ÷ (begin AR + sales − end current AR) × 100)"


def expected_text(name: str, late_b: int, late_g: int) -> str:
    return f"""Hello {name},

The receivables summary of Acme Supplies for the week 2026-W12 (2026-03-16 to 2026-03-22), in USD.

COLLECTIONS
  Collected in the week            350.00 USD
  The week before                  400.00 USD

OPEN RECEIVABLES
  AR at the end of 2026-03-22      2,750.00 USD  (−380.00 USD in the week)
  AR at the end of 2026-03-15      3,130.00 USD
  Overdue at the end of 2026-03-22 2,250.00 USD  (−200.00 USD in the week)
  Overdue at the end of 2026-03-15 2,450.00 USD

KPIS OF THE LAST 4 WEEKS (2026-02-23 to 2026-03-22, 28 days)
  DSO                              154.00 days  (end AR ÷ credit sales × 28)
  CEI                              25.74 %  {CEI_FORMULA}

TOP 5 OVERDUE CUSTOMERS (at the end of 2026-03-22)
  1. EURO Ltd (EURO): 1,000.00 USD overdue of 1,000.00 USD open, the oldest 31-60 days past due
  2. ACME Ltd (ACME): 500.00 USD overdue of 1,000.00 USD open, the oldest 31-60 days past due
  3. BETA Ltd (BETA): 300.00 USD overdue of 300.00 USD open, the oldest 61-90 days past due
  4. GAMMA Ltd (GAMMA): 200.00 USD overdue of 200.00 USD open, the oldest 1-30 days past due
  5. DELTA Ltd (DELTA): 150.00 USD overdue of 150.00 USD open, the oldest 1-30 days past due

DISPUTES PAST THEIR SLA (on 2026-03-23): 2
  #{late_b} B1, BETA Ltd: 300.00 USD, Pricing, owner ann, 8 days past the SLA (due 2026-03-15)
  #{late_g} G1, GAMMA Ltd: 200.00 USD, Not received, owner nobody, 4 days past the SLA (due 2026-03-19)

The dashboard: https://recoup.example.com/dashboard/

You receive this email as a manager or admin of Recoup. The dashboard defines every KPI.
"""


# The figures, by hand ------------------------------------------------------------------------------------


def test_the_summary_figures_are_the_hand_worked_ones(ledger):
    s = summary.weekly_summary(as_of=D(2026, 3, 23))

    assert (s.week.label, s.week.start, s.week.end) == ("2026-W12", D(2026, 3, 16), D(2026, 3, 22))
    # Collected in W12: A1 100 (03-17) + E1 200 EUR × 1.25 (03-20) = 350; in W11: A1 400 (03-10).
    assert (s.collected, s.collected_week_before) == (Decimal("350.00"), Decimal("400.00"))
    # AR at the end of 03-22 (EUR 1.25): A1 500 + A2 500 + E1 800 × 1.25 = 1000 + B1 300 + G1 200 + D1 150
    # + X1 100 = 2750; current: A2 500 → overdue 2250. At the end of 03-15 (EUR 1.20): A1 600 + A2 500
    # + E1 1200 + B1 300 + G1 200 + D1 150 + X1 100 + X2 80 = 3130; current A2, X1, X2 = 680 → overdue 2450.
    assert (s.ar, s.ar_week_before) == (Decimal("2750.00"), Decimal("3130.00"))
    assert (s.overdue, s.overdue_week_before) == (Decimal("2250.00"), Decimal("2450.00"))
    # The 28 days 02-23 … 03-22: begin AR (end of 02-22, EUR 1.20) A1 1000 + E1 1200 + B1 300 + G1 200
    # + D1 150 + X1 100 + X2 80 = 3030; credit sales A2 500 (issued 03-01); end AR 2750, current 500.
    # DSO = 2750 ÷ 500 × 28 = 154; CEI = (3030 + 500 − 2750) ÷ (3030 + 500 − 500) × 100 = 780 ÷ 3030 × 100.
    k = s.kpis
    assert (k.start, k.end, k.begin_ar, k.credit_sales, k.end_ar, k.end_current_ar) == (
        D(2026, 2, 23),
        D(2026, 3, 22),
        Decimal("3030.00"),
        Decimal("500.00"),
        Decimal("2750.00"),
        Decimal("500.00"),
    )
    assert k.dso == Decimal(154)
    assert round(k.cei, 6) == Decimal("25.742574")
    # EPSI's X1 (100 overdue) is the sixth: not in the top 5.
    assert [(c.external_id, c.overdue, c.open, c.oldest) for c in s.top_overdue] == [
        ("EURO", Decimal("1000.00"), Decimal("1000.00"), "31-60"),
        ("ACME", Decimal("500.00"), Decimal("1000.00"), "31-60"),
        ("BETA", Decimal("300.00"), Decimal("300.00"), "61-90"),
        ("GAMMA", Decimal("200.00"), Decimal("200.00"), "1-30"),
        ("DELTA", Decimal("150.00"), Decimal("150.00"), "1-30"),
    ]
    # Past their SLA on 03-23: B1's (due 03-05 + 10 = 03-15) and G1's (03-12 + 7 = 03-19); D1's is due 03-30.
    assert s.late_disputes == 2
    assert [(d.invoice, d.sla_due_on, d.days_late, d.owner) for d in s.oldest_late_disputes] == [
        ("B1", D(2026, 3, 15), 8, "ann"),
        ("G1", D(2026, 3, 19), 4, "nobody"),
    ]


# End to end ----------------------------------------------------------------------------------------------


def test_the_command_emails_every_manager_and_admin_once_a_week_over_smtp(
    ledger, smtp, django_capture_on_commit_callbacks
):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reports", "weekly-summary", stdout=out)

    assert out.getvalue() == "2 weekly summaries of 2026-W12 queued; 0 recipients had it already.\n"
    late_b, late_g = (d.pk for d in ledger["late"])
    received = sorted(smtp.received, key=lambda r: r.rcpt_tos)
    assert [r.rcpt_tos for r in received] == [["adam@acme.example"], ["mary@acme.example"]]
    for message in received:
        assert message.message["Subject"] == (
            "Weekly AR summary 2026-W12: 350.00 USD collected, 2,750.00 USD open"
        )
        assert message.message["From"] == "Acme AR <ar@acme.example>"
        assert message.structure() == ["text/plain"]
    assert body(received[1]) == expected_text("Mary Major", late_b, late_g)
    assert body(received[0]) == expected_text("adam", late_b, late_g)
    keys = set(Notification.objects.values_list("key", "status"))
    assert keys == {
        (f"weekly-summary:2026-W12:{ledger['mary'].pk}", NotificationStatus.SENT),
        (f"weekly-summary:2026-W12:{ledger['adam'].pk}", NotificationStatus.SENT),
    }

    # Again on Wednesday of the same week: the same ISO week is reported, and nothing goes out.
    again = io.StringIO()
    with (
        time_machine.travel(MONDAY + dt.timedelta(days=2), tick=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        call_command("reports", "weekly-summary", stdout=again)

    assert again.getvalue() == "0 weekly summaries of 2026-W12 queued; 2 recipients had it already.\n"
    assert callbacks == []
    assert len(smtp.received) == 2
    assert Notification.objects.count() == 2


def test_a_new_manager_gets_the_week_already_sent_to_the_others(
    ledger, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        summary.send_weekly_summary()
    User.objects.create_user("nina", email="nina@acme.example", role=Role.MANAGER)

    with django_capture_on_commit_callbacks(execute=True):
        sent = summary.send_weekly_summary()

    assert (sent.week, sent.queued, sent.already) == ("2026-W12", 1, 2)
    assert [r.rcpt_tos for r in smtp.received[2:]] == [["nina@acme.example"]]
    assert body(smtp.received[2]).startswith("Hello nina,\n\nThe receivables summary of Acme Supplies for")


def test_an_earlier_as_of_reports_its_own_week_under_its_own_key(
    ledger, smtp, django_capture_on_commit_callbacks
):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reports", "weekly-summary", "--as-of", "2026-03-18", stdout=out)

    assert out.getvalue() == "2 weekly summaries of 2026-W11 queued; 0 recipients had it already.\n"
    assert {r.message["Subject"] for r in smtp.received} == {
        "Weekly AR summary 2026-W11: 400.00 USD collected, 3,130.00 USD open"
    }
    assert set(Notification.objects.values_list("key", flat=True)) == {
        f"weekly-summary:2026-W11:{ledger['mary'].pk}",
        f"weekly-summary:2026-W11:{ledger['adam'].pk}",
    }


# Switched off, the task, the schedule ---------------------------------------------------------------------


def test_switched_off_neither_the_command_nor_the_task_sends_anything(
    ledger, smtp, settings, django_capture_on_commit_callbacks
):
    settings.RECOUP_WEEKLY_SUMMARY = False
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("reports", "weekly-summary", stdout=out)
        result = tasks.weekly_summary.delay().get()

    assert out.getvalue() == "The weekly summary is off (RECOUP_WEEKLY_SUMMARY=0): nothing sent.\n"
    assert result == {"week": "2026-W12", "queued": 0, "already": 0, "off": True}
    assert (callbacks, smtp.received, Notification.objects.count()) == ([], [], 0)


def test_the_beat_task_sends_last_weeks_summary(ledger, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.weekly_summary.delay().get()

    assert result == {"week": "2026-W12", "queued": 2, "already": 0, "off": False}
    assert len(smtp.received) == 2
    entry = settings.CELERY_BEAT_SCHEDULE["reports-weekly-summary"]
    assert entry["task"] == "recoup.reports.tasks.weekly_summary"
    assert entry["schedule"] == crontab(day_of_week="mon", hour=7, minute=30)


def test_a_bad_date_is_a_usage_error(ledger):
    with pytest.raises(
        Exception, match=r"argument --as-of: '2026-13-01' is not a date \(expected YYYY-MM-DD\)"
    ):
        call_command("reports", "weekly-summary", "--as-of", "2026-13-01")
    assert not Notification.objects.exists()


def run_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Load config.settings in a fresh interpreter with these environment variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECOUP_WEEKLY") and k != "DATABASE_URL"}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(sorted(settings.CELERY_BEAT_SCHEDULE)); "
        "print(settings.CELERY_BEAT_SCHEDULE.get('reports-weekly-summary', {}).get('schedule'))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "RECOUP_INSECURE_DEFAULTS": "1",
            "DATABASE_URL": "sqlite://:memory:",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_schedule_follows_the_settings_and_refuses_a_day_that_is_no_day():
    friday = run_settings(RECOUP_WEEKLY_SUMMARY_DAY="fri", RECOUP_WEEKLY_SUMMARY_AT="16:45")
    assert friday.returncode == 0, friday.stderr
    assert "'reports-weekly-summary'" in friday.stdout
    assert "<crontab: 45 16 * * fri (m/h/dM/MY/d)>" in friday.stdout

    off = run_settings(RECOUP_WEEKLY_SUMMARY="0")
    assert off.returncode == 0, off.stderr
    assert "reports-weekly-summary" not in off.stdout
    assert "'reports-month-end-snapshot'" in off.stdout

    bad = run_settings(RECOUP_WEEKLY_SUMMARY_DAY="monday")
    assert bad.returncode != 0
    assert "RECOUP_WEEKLY_SUMMARY_DAY must be a day of the week (mon … sun), not 'monday'." in bad.stderr
    late = run_settings(RECOUP_WEEKLY_SUMMARY_AT="25:00")
    assert late.returncode != 0
    assert "RECOUP_WEEKLY_SUMMARY_AT must be a time of day such as 09:00, not '25:00'." in late.stderr
