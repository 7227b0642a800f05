"""Migration 0002 keeps the disputes recorded before the workflow existed: reasons, SLA, outcome, history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("disputes", "0001_initial")]
AFTER = [("disputes", "0004_workflow_constraints")]


def test_old_disputes_get_a_reason_an_sla_and_their_opening_in_the_history():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    customer = old.get_model("ledger", "Customer").objects.create(external_id="OLD", name="Old Ltd")
    invoice = old.get_model("ledger", "Invoice").objects.create(
        external_id="OLD-1",
        customer=customer,
        issue_date=dt.date(2026, 1, 1),
        due_date=dt.date(2026, 1, 31),
        amount=Decimal("100.00"),
        currency="USD",
        open_amount=Decimal("100.00"),
    )
    Dispute = old.get_model("disputes", "Dispute")
    common = {"invoice": invoice, "currency": "USD", "opened_on": dt.date(2026, 2, 1)}
    Dispute.objects.create(amount=Decimal("10.00"), reason="Pricing", **common)
    Dispute.objects.create(amount=Decimal("20.00"), reason="wrong colour", note="Blue, not red", **common)
    Dispute.objects.create(
        amount=Decimal("30.00"),
        reason="tax",
        status="resolved",
        outcome="agreed",
        resolved_on=dt.date(2026, 2, 3),
        **common,
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    rows = list(
        new.get_model("disputes", "Dispute")
        .objects.order_by("amount")
        .values_list("reason__code", "sla_due_on", "note", "status", "outcome", "resolution_note")
    )
    assert rows == [
        ("pricing", dt.date(2026, 2, 11), "", "open", "", ""),
        ("other", dt.date(2026, 2, 15), "Reason: wrong colour\n\nBlue, not red", "open", "", ""),
        ("tax", dt.date(2026, 2, 11), "", "resolved", "rejected", "Outcome: agreed"),
    ]
    history = new.get_model("disputes", "DisputeStatusChange").objects.order_by("dispute__amount", "id")
    assert list(history.values_list("dispute__amount", "from_status", "to_status")) == [
        (Decimal("10.00"), "", "open"),
        (Decimal("20.00"), "", "open"),
        (Decimal("30.00"), "", "open"),
        (Decimal("30.00"), "open", "resolved"),
    ]
    assert new.get_model("disputes", "DisputeReason").objects.count() == 7
