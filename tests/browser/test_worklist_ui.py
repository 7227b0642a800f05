"""A collector's morning in a real Chromium: "My work today" lists the customers by score with the terms,
a due task is ticked and snoozed through htmx (CSRF and all), its customer leaves the list, and one click on
another customer opens its page with the suggested next action. Screenshots land in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recoup.activity.defaults import install_task_rules
from recoup.activity.models import Task, TaskKind
from recoup.activity.services import task_create
from recoup.insights.models import CustomerPriority
from recoup.insights.services import scores_refresh
from recoup.ledger import services as ledger
from recoup.users.models import Role, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk():
    """Dates relative to today, since the live server runs on the real clock. BIG owes 1,000.00 30 days
    late, SMALL 100.00 10 days late (with a phone number); TASK has a call task due today."""
    today = timezone.localdate()
    install_task_rules()
    cara = User.objects.create_user(username="cara", password="pw-cara", role=Role.COLLECTOR)
    customers = {}
    for external_id, amount, days in (("BIG", "1000.00", 30), ("SMALL", "100.00", 10), ("TASK", "50.00", 2)):
        customer = ledger.customer_create(
            actor=None, external_id=external_id, name=f"{external_id} Ltd", collector=cara
        )
        ledger.invoice_create(
            actor=None,
            customer=customer,
            external_id=f"{external_id}-1",
            issue_date=today - dt.timedelta(days=days + 30),
            due_date=today - dt.timedelta(days=days),
            amount=Decimal(amount),
        )
        customers[external_id] = customer
    ledger.contact_create(actor=None, customer=customers["SMALL"], name="Pat", phone="+1 555 0100")
    task, _ = task_create(
        actor=None,
        customer=customers["TASK"],
        kind=TaskKind.CALL,
        title="Call TASK about the payment run",
        due_date=today,
        owner=cara,
    )
    return {"today": today, "task": task, **customers}


def test_a_collector_works_the_list_snoozes_a_task_and_opens_a_customer(
    page, live_server, desk, shot, log_in
):
    base = live_server.url
    scores_refresh(actor=None, as_of=desk["today"])  # the nightly scoring: every row gets its terms
    big = CustomerPriority.objects.get(customer=desk["BIG"])
    log_in(base, "cara", "pw-cara", then="/worklist/")

    rows = page.locator("#worklist-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("BIG Ltd")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("1,000.00")
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("30.0")
    priority = rows.nth(0).locator("td").nth(3)
    expect(priority.locator(".priority-score")).to_have_text(f"{big.score:.1f}")
    expect(priority).to_contain_text(f"Days past due +{big.term_days_past_due:.1f}")
    expect(rows.nth(2)).to_contain_text("1 task due")
    expect(page.locator("nav.mainnav a").first).to_have_text("My work")
    shot("worklist")

    page.get_by_role("button", name="Apply").click()  # nothing ticked: refused, and said so
    expect(page.get_by_role("alert")).to_have_text("Tick the tasks to act on.")
    rows.nth(2).get_by_role("checkbox").check()
    page.locator("#worklist-bulk select[name=action]").select_option("snooze")
    page.locator("#worklist-bulk input[name=due_date]").fill(
        (desk["today"] + dt.timedelta(days=2)).isoformat()
    )
    page.get_by_role("button", name="Apply").click()

    expect(page.get_by_role("status")).to_have_text(
        f"1 task snoozed to {(desk['today'] + dt.timedelta(days=2)).isoformat()}."
    )
    expect(rows).to_have_count(2)  # TASK's only task is due later now
    assert Task.objects.get(pk=desk["task"].pk).due_date == desk["today"] + dt.timedelta(days=2)

    page.get_by_role("link", name="SMALL Ltd").click()
    expect(page).to_have_url(f"{base}/customers/{desk['SMALL'].pk}/?next_action=call")
    expect(page.locator("#next-action")).to_contain_text("Next action: Call about the overdue invoices")
    shot("worklist-next-action")
