"""Training, scoring, rescoring on events, the weights and the terms, through the database."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
import time_machine

from recoup.activity.models import Promise, PromiseStatus
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.models import Event
from recoup.disputes.defaults import install_reasons
from recoup.insights import rules, selectors, services, tasks
from recoup.insights.features import FEATURE_NAMES
from recoup.insights.models import Backtest, CustomerPriority, InvoicePrediction, Method, PredictionModel
from recoup.insights.tests.support import D, build_ledger
from recoup.ledger import services as ledger
from recoup.ledger.models import Allocation, Invoice

pytestmark = pytest.mark.django_db
TODAY = D(2026, 6, 1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def book():
    install_reasons()
    return build_ledger(today=TODAY, customers=3, per_customer=14)


@pytest.fixture
def scored(book):
    services.model_train(actor=None)
    services.scores_refresh(actor=None)
    return book


def open_invoices(customer) -> list[Invoice]:
    return list(Invoice.objects.filter(customer=customer, open_amount__gt=0).order_by("due_date", "id"))


# Training ---------------------------------------------------------------------------------------------------


def test_training_is_refused_until_enough_invoices_have_settled(book, settings):
    settings.RECOUP_INSIGHTS_MIN_SETTLED = 1000

    with pytest.raises(
        DomainError, match=r"^\d+ invoices settled by 2026-06-01; the models need at least 1000\.$"
    ):
        services.model_train(actor=None)

    assert not PredictionModel.objects.exists()
    assert not Event.objects.filter(verb="insights.model_trained").exists()


def test_training_stores_versions_and_keeps_one_active(book, manager):
    first = services.model_train(actor=manager)
    second = services.model_train(actor=None, through=D(2026, 5, 1))

    versions = list(
        PredictionModel.objects.order_by("version").values_list("version", "is_active", "trained_through")
    )
    assert versions == [(1, False, TODAY), (2, True, D(2026, 5, 1))]
    assert (first.invoices, first.trained_by) == (42, manager)
    assert first.settled_invoices == Invoice.objects.filter(closed_on__isnull=False).count()
    assert first.train_from == min(i.issue_date for i in book.invoices)
    assert first.feature_names == list(FEATURE_NAMES)
    assert first.sha256 == hashlib.sha256(bytes(first.estimator)).hexdigest()
    assert second.invoices == Invoice.objects.filter(issue_date__lte=D(2026, 5, 1)).count()
    assert Event.objects.filter(verb="insights.model_trained").count() == 2


def test_training_on_the_future_is_refused(book):
    with pytest.raises(DomainError, match=r"^A model cannot be trained on facts from the future\.$"):
        services.model_train(actor=None, through=D(2026, 6, 2))


# Scoring ----------------------------------------------------------------------------------------------------


def test_with_no_model_the_baseline_scores_and_says_so(book):
    newcomer = ledger.customer_create(actor=None, external_id="NEW", name="Newcomer")
    fresh = ledger.invoice_create(
        actor=None,
        customer=newcomer,
        external_id="NEW-1",
        issue_date=D(2026, 5, 20),
        due_date=D(2026, 6, 19),
        amount=Decimal("250.00"),
    )

    summary = services.scores_refresh(actor=None)

    assert summary.model_version is None
    assert summary.baseline_invoices == summary.invoices == Invoice.objects.filter(open_amount__gt=0).count()
    # A customer with history: its own average days to settle, counted from the issue date.
    prompt = book.customers[0]
    settled = Invoice.objects.filter(customer=prompt, closed_on__isnull=False)
    mean = sum((i.closed_on - i.issue_date).days for i in settled) / settled.count()
    invoice = open_invoices(prompt)[-1]
    row = InvoicePrediction.objects.get(invoice=invoice)
    age = (TODAY - invoice.issue_date).days
    assert row.method == Method.CUSTOMER_AVERAGE
    assert row.predicted_date == TODAY + dt.timedelta(days=round(max(mean - age, 1)))
    assert row.model is None and row.p_paid_7_days is None
    # No history at all: the due date, and nothing the baseline cannot tell.
    new = InvoicePrediction.objects.get(invoice=fresh)
    assert (new.method, new.predicted_date, new.p10_date, new.p90_date) == (
        Method.TERMS,
        fresh.due_date,
        None,
        None,
    )
    assert (new.p_paid_by_due, new.p_late_30) == (None, None)
    assert CustomerPriority.objects.get(customer=newcomer).method == Method.TERMS


def test_the_model_scores_every_open_invoice_and_works_out_each_customers_terms(scored):
    open_now = Invoice.objects.filter(open_amount__gt=0)

    assert InvoicePrediction.objects.count() == open_now.count() > 0
    assert set(InvoicePrediction.objects.values_list("method", flat=True)) == {Method.MODEL}
    for customer in scored.customers:
        invoices = open_invoices(customer)
        row = CustomerPriority.objects.get(customer=customer)
        max_dpd = max((TODAY - i.due_date).days for i in invoices)
        assert (row.as_of, row.currency, row.open_invoices) == (TODAY, "USD", len(invoices))
        assert row.open_amount == sum(i.open_amount for i in invoices)
        assert row.max_days_past_due == max_dpd
        assert row.term_days_past_due == round(rules.days_past_due_points(max_dpd), 4)
        assert row.term_customer_risk == row.risk and 0 <= row.risk <= 100
        assert Decimal(0) <= row.amount_at_risk <= row.open_amount
        assert row.term_amount_at_risk == pytest.approx(
            rules.amount_at_risk_points(float(row.amount_at_risk)), abs=0.01
        )
        assert (row.broken_promises, row.term_broken_promises, row.term_open_dispute) == (0, 0.0, 0.0)
        assert -100 <= row.term_about_to_pay <= 0
    for p in InvoicePrediction.objects.all():
        assert p.p10_date <= p.predicted_date <= p.p90_date and p.predicted_date > TODAY


def test_the_late_payer_ranks_first(scored):
    prompt, slow, late = scored.customers

    ranking = [row.customer_id for row in selectors.priority_ranking()]

    assert ranking[0] == late.pk and sorted(ranking) == sorted([prompt.pk, slow.pk, late.pk])
    risk = dict(CustomerPriority.objects.values_list("customer_id", "risk"))
    assert risk[late.pk] > risk[prompt.pk]
    assert CustomerPriority.objects.get(customer=late).drivers[0]["group"] in services.GROUP_LABELS


def test_amounts_are_in_the_base_currency_at_the_rate_of_the_day(scored):
    euro = ledger.customer_create(actor=None, external_id="EU", name="Euro GmbH", currency="EUR")
    ledger.fx_rate_set(actor=None, currency="EUR", date=D(2026, 5, 1), rate=Decimal("1.1"))
    ledger.invoice_create(
        actor=None,
        customer=euro,
        external_id="EU-1",
        issue_date=D(2026, 5, 10),
        due_date=D(2026, 6, 9),
        amount=Decimal("100.01"),
    )

    services.rescore_customer(customer_id=euro.pk)

    row = CustomerPriority.objects.get(customer=euro)
    assert (row.open_amount, row.currency) == (Decimal("110.01"), "USD")  # 110.011 rounded to the cent


# Rescoring ------------------------------------------------------------------------------------------------


def test_broken_promises_count_in_their_term(scored):
    late = scored.customers[2]
    for days in (10, 40, 400):  # the last came due more than 180 days ago
        Promise.objects.create(
            customer=late,
            amount=Decimal(100),
            currency="USD",
            promised_date=TODAY - dt.timedelta(days=days),
            status=PromiseStatus.BROKEN,
        )
    Promise.objects.create(
        customer=late, amount=Decimal(1), currency="USD", promised_date=TODAY, status="kept"
    )

    row = services.rescore_customer(customer_id=late.pk)

    assert row is not None
    assert (row.broken_promises, row.term_broken_promises) == (2, 50.0)


# Weights and terms ------------------------------------------------------------------------------------------


def test_managers_set_the_weights_and_the_ranking_follows_at_once(scored, manager):
    services.priority_weights_update(
        actor=manager, days_past_due=0, amount_at_risk=0, customer_risk=0, about_to_pay=10
    )

    weights = selectors.priority_weights()
    assert weights == {
        **rules.DEFAULT_WEIGHTS,
        "days_past_due": 0,
        "amount_at_risk": 0,
        "customer_risk": 0,
        "about_to_pay": 10,
    }
    ranked = list(selectors.priority_ranking())
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    for row in ranked:
        points = {t: getattr(row, f"term_{t}") for t in rules.TERMS}
        assert row.score == pytest.approx(rules.weighted_score(points, weights), abs=1e-4)  # stored rounded
    assert Event.objects.filter(verb="insights.weights_updated", actor=manager).count() == 1


def test_a_collector_cannot_set_the_weights(scored, collector):
    with pytest.raises(NotAllowed, match=r"^Only managers and admins set the priority weights\.$"):
        services.priority_weights_update(actor=collector, days_past_due=5)

    assert selectors.priority_weights() == rules.DEFAULT_WEIGHTS
    assert not Event.objects.filter(verb="insights.weights_updated").exists()


def test_a_weight_outside_0_to_10_is_refused_naming_it(manager):
    with pytest.raises(DomainError) as refused:
        services.priority_weights_update(actor=manager, open_dispute=11)

    assert refused.value.field == "open_dispute"
    assert selectors.priority_weights() == rules.DEFAULT_WEIGHTS


def test_priority_terms_give_each_terms_points_contribution_and_the_score(scored, django_assert_num_queries):
    ids = [c.pk for c in scored.customers]

    with django_assert_num_queries(2):
        terms = selectors.priority_terms(ids, weights=None)

    assert sorted(terms) == sorted(ids)
    one = terms[ids[2]]
    assert one.weights == rules.DEFAULT_WEIGHTS
    assert one.contributions == one.points
    assert one.score == pytest.approx(sum(one.points.values()))
    assert not one.is_baseline


def test_the_raw_sql_score_orders_as_the_orm_expression(scored):
    from django.db import connection

    weights = {**rules.DEFAULT_WEIGHTS, "days_past_due": 2.5}
    score = selectors.priority_score_sql("p", weights)
    sql = f"SELECT p.customer_id FROM insights_customerpriority p ORDER BY {score} DESC, p.customer_id"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        raw = [row[0] for row in cursor.fetchall()]

    assert raw == [r.customer_id for r in selectors.priority_ranking(weights=weights)]
    assert [r.weighted_score for r in selectors.priority_ranking(weights=weights)] == sorted(
        (r.weighted_score for r in selectors.priority_ranking(weights=weights)), reverse=True
    )


# Forecast, backtests, tasks ---------------------------------------------------------------------------------


def test_the_forecast_spreads_the_open_amount_over_the_weeks(scored):
    result = selectors.cash_forecast()

    assert result.as_of == TODAY and result.currency == "USD"
    assert [w.start for w in result.weeks] == [TODAY + dt.timedelta(days=1 + 7 * k) for k in range(13)]
    total = sum((w.expected for w in result.weeks), Decimal(0)) + result.later
    open_amount = sum(i.open_amount for i in Invoice.objects.filter(open_amount__gt=0))
    assert result.open_amount == open_amount
    assert abs(total - open_amount * Decimal(result.cash_share)) <= Decimal(
        "0.10"
    )  # each week rounded to the cent
    assert all(w.low <= w.expected <= w.high for w in result.weeks)


def test_the_forecast_needs_predictions_first():
    with pytest.raises(
        DomainError, match=r"^There are no predictions yet: run `recoup insights score` first\.$"
    ):
        selectors.cash_forecast()


def test_a_backtest_is_stored_with_its_report(book):
    runs = services.backtest_run(actor=None, cutoff=D(2026, 4, 1), forecast=True)

    assert [r.kind for r in runs] == ["payments", "forecast"]
    payments = Backtest.objects.get(kind="payments").results
    assert payments["train_invoices"] == Invoice.objects.filter(issue_date__lt=D(2026, 4, 1)).count()
    assert payments["test_invoices"] == Invoice.objects.filter(issue_date__gte=D(2026, 4, 1)).count()
    assert {
        "mae_days",
        "baseline_due_date_mae",
        "baseline_customer_mean_mae",
        "auc_late",
        "f1_late",
        "calibration",
    } <= set(payments)
    assert Backtest.objects.get(kind="forecast").results["as_of"] == "2026-03-31"


@pytest.mark.parametrize(
    ("cutoff", "message"),
    [
        (D(2026, 6, 2), r"^The cutoff is in the future: nothing after it is known yet\.$"),
        (D(2026, 6, 1), r"^No invoice was issued on or after 2026-06-01: nothing to test\.$"),
    ],
)
def test_a_backtest_with_nothing_to_test_is_refused(book, cutoff, message):
    with pytest.raises(DomainError, match=message):
        services.backtest_run(actor=None, cutoff=cutoff)

    assert not Backtest.objects.exists()


def test_the_nightly_task_trains_then_scores(book):
    out = tasks.nightly.delay().get()

    assert out["model_version"] == 1
    assert out["scored"]["invoices"] == Invoice.objects.filter(open_amount__gt=0).count()
    assert PredictionModel.objects.get().is_active


def test_the_nightly_task_scores_with_the_baseline_while_history_is_too_short(book, settings):
    settings.RECOUP_INSIGHTS_MIN_SETTLED = 10_000

    out = tasks.nightly.delay().get()

    assert out["training_refused"].endswith("the models need at least 10000.")
    assert out["scored"]["model_version"] is None
    assert not PredictionModel.objects.exists()
    assert InvoicePrediction.objects.exclude(method=Method.MODEL).count() == out["scored"]["invoices"]


def test_the_cash_share_leaves_out_credit_notes_and_write_offs(book):
    invoice = open_invoices(book.customers[2])[0]
    ledger.credit_note_create(
        actor=None,
        customer=invoice.customer,
        external_id="CN-1",
        date=TODAY,
        amount=Decimal("100.00"),
        apply_to=[ledger.Application(invoice=invoice)],
    )
    ledger.write_off_create(actor=None, invoice=invoice, amount=Decimal("50.00"), date=TODAY)
    paid = sum(a.amount for a in Allocation.objects.filter(kind="payment", date__gt=D(2025, 6, 1)))

    share = selectors.cash_share(through=TODAY)

    assert share == float(paid / (paid + Decimal(150)))
    assert 0 < share < 1
