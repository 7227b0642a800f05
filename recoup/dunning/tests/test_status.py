"""'Why was this invoice not dunned?': the answer for each reason, from the same plan a run makes."""

from __future__ import annotations

import datetime as dt

import pytest

from recoup.activity.services import promise_create
from recoup.disputes.services import dispute_open
from recoup.dunning import policies
from recoup.dunning.selectors import invoice_dunning_status, policy_for
from recoup.dunning.services import dunning_run, hold_create, policy_save
from recoup.ledger import services as ledger

D = dt.date
DUE = D(2026, 3, 2)
pytestmark = pytest.mark.django_db


def status(invoice, days: int):
    return invoice_dunning_status(invoice=invoice, as_of=DUE + dt.timedelta(days=days))


def test_an_invoice_due_for_a_level_says_which(books):
    invoice = books.invoice(books.customer("DUE"), DUE)

    answer = status(invoice, 3)

    assert (answer.verdict, answer.reason, answer.next_level) == ("moves", "", "Reminder")
    assert (
        answer.explanation == "It is due for Reminder as of 2026-03-05; the next run for that date sends it."
    )
    assert (answer.policy.name, answer.policy_source) == ("Standard", "default")


def test_each_reason_is_answered_in_words(books):
    customer = books.customer("WHY")
    waiting = books.invoice(customer, DUE + dt.timedelta(days=10))
    disputed = books.invoice(customer, DUE)
    dispute_open(actor=None, invoice=disputed, reason="pricing", opened_on=DUE)
    paid = books.invoice(customer, DUE)
    books.pay(paid, "100.00", DUE + dt.timedelta(days=1))
    promised = books.invoice(customer, DUE)
    promise_create(actor=None, customer=customer, amount="100", promised_date=DUE + dt.timedelta(days=9),
                   invoices=[promised])  # fmt: skip
    held = books.invoice(customer, DUE)
    hold_create(actor=None, customer=customer, invoice=held, reason="bank details changing")

    paid.refresh_from_db()
    invoices = {"waiting": waiting, "disputed": disputed, "paid": paid, "promised": promised, "held": held}
    answers = {name: status(invoice, 5) for name, invoice in invoices.items()}

    assert {name: (a.verdict, a.reason) for name, a in answers.items()} == {
        "waiting": ("skipped", "not_due"),
        "disputed": ("skipped", "disputed"),
        "paid": ("paid", "paid"),
        "promised": ("skipped", "promised"),
        "held": ("skipped", "on_hold"),
    }
    assert (
        answers["waiting"].explanation
        == "Not dunned as of 2026-03-07: its next level is not due yet (due in 5 days)."
    )
    assert answers["disputed"].explanation == (
        "Not dunned as of 2026-03-07: all of its open amount is disputed (100.00 USD under dispute)."
    )
    assert (
        answers["paid"].explanation
        == "It is settled on 2026-03-03: nothing is left to collect, so no reminder goes out."
    )
    assert answers["held"].holds[0].reason == "bank details changing"


def test_an_invoice_at_a_level_says_where_it_stands_and_shows_its_history(books, smtp):
    customer = books.customer("HIST", do_not_dun=False)
    invoice = books.invoice(customer, DUE)
    dunning_run(actor=None, as_of=DUE + dt.timedelta(days=3))

    answer = status(invoice, 4)

    assert (
        answer.explanation
        == "Not dunned as of 2026-03-06: its next level is not due yet (at Reminder since 2026-03-05)."
    )
    assert [(step.as_of, step.level.name, step.from_level) for step in answer.steps] == [
        (D(2026, 3, 5), "Reminder", None)
    ]
    assert [m.level.name for m in answer.messages] == ["Reminder"]
    ledger.customer_update(actor=None, customer=customer, do_not_dun=True)
    assert status(invoice, 20).reason == "do_not_dun"


def test_the_policy_comes_from_the_invoice_then_the_customer_then_the_default(books):
    def policy(name: str):
        spec = policies.parse_policy({"name": name, "levels": [{"name": "A", "offset_days": 1}]})
        return policy_save(actor=None, spec=spec)[0]

    mine, other = policy("Mine"), policy("Other")
    customer = books.customer("POL", dunning_policy=mine)
    on_customer = books.invoice(customer, DUE)
    on_invoice = books.invoice(customer, DUE, dunning_policy=other)
    plain = books.invoice(books.customer("PLAIN"), DUE)

    assert [policy_for(i)[1] for i in (on_invoice, on_customer, plain)] == ["invoice", "customer", "default"]
    assert [policy_for(i)[0].name for i in (on_invoice, on_customer, plain)] == ["Other", "Mine", "Standard"]
    assert (
        ledger.invoice_set_dunning_policy(actor=None, invoice=on_invoice, dunning_policy=None).dunning_policy
        is None
    )
    assert policy_for(on_invoice)[1] == "customer"
