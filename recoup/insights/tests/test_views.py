"""The insights on the web pages: the customer page's panel (terms, risk, predictions, the baseline said as
such) and Settings → Priority weights (managers only, CSRF on, a bad weight refused whole)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from recoup.core.models import Event
from recoup.disputes.defaults import install_reasons
from recoup.insights import rules, selectors, services
from recoup.insights.models import CustomerPriority, InvoicePrediction, PriorityWeights
from recoup.insights.tests.support import D, build_ledger
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
TODAY = D(2026, 6, 1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        yield


def logged_in(user, **kw) -> Client:
    client = Client(**kw)
    client.force_login(user)
    return client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_customer_panel_shows_each_term_the_risk_and_the_predictions(scored, make_user):
    row = CustomerPriority.objects.order_by("-score").first()
    terms = selectors.priority_terms([row.customer_id])[row.customer_id]
    predictions = InvoicePrediction.objects.filter(customer_id=row.customer_id)

    response = logged_in(make_user(Role.VIEWER)).get(
        reverse("insights-customer-panel", args=[row.customer_id]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # htmx gets the panel alone
    text = text_of(html)
    assert f"Priority score {terms.score:.1f}" in text
    for t in terms.term_rows:
        assert re.search(
            rf"{re.escape(t.label)} {re.escape(t.figure)} [-\d.]+ [\d.]+ [+-]?{abs(t.contribution):.1f}", text
        )
    assert f"Risk {row.risk} / 100" in text
    assert "Predicted by the model" in text and "too little payment history" not in text
    table = html[html.index('id="invoice-predictions"') :]
    assert table.count('<td class="mono">') == predictions.count() > 0
    for p in predictions:
        assert f'<td class="date strong">{p.predicted_date.isoformat()}</td>' in table


def test_the_panel_says_when_the_baseline_answered(make_user, settings):
    settings.RECOUP_INSIGHTS_MIN_SETTLED = 10_000  # too little history for a model
    install_reasons()
    build_ledger(today=TODAY, customers=2, per_customer=6)
    services.scores_refresh(actor=None)
    row = CustomerPriority.objects.order_by("-score").first()

    text = text_of(
        logged_in(make_user(Role.COLLECTOR))
        .get(reverse("insights-customer-panel", args=[row.customer_id]))
        .content.decode()
    )

    assert row.method != "model"
    assert "There is too little payment history for the model yet" in text
    assert "Predicted by the model" not in text


def test_a_customer_not_scored_yet_says_so_and_an_unknown_one_is_404(make_user, books):
    customer = books.customer("NEW")
    client = logged_in(make_user(Role.VIEWER))

    assert (
        "Not scored yet"
        in client.get(reverse("insights-customer-panel", args=[customer.pk])).content.decode()
    )
    assert client.get(reverse("insights-customer-panel", args=[customer.pk + 999])).status_code == 404
    assert (
        Client().get(reverse("insights-customer-panel", args=[customer.pk])).status_code == 302
    )  # to log in


def test_managers_set_the_weights_and_the_stored_scores_follow(scored, make_user):
    manager = make_user(Role.MANAGER)
    client = logged_in(manager, enforce_csrf_checks=True)
    page = client.get(reverse("insights-weights"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    weights = {**dict.fromkeys(rules.TERMS, "1"), "customer_risk": "3", "about_to_pay": "0"}

    response = client.post(reverse("insights-weights"), {**weights, "csrfmiddlewaretoken": token})

    assert response.status_code == 302 and response["Location"] == reverse("insights-weights")
    row = PriorityWeights.objects.get(pk=1)
    assert (row.customer_risk, row.about_to_pay, row.days_past_due, row.updated_by) == (
        3.0,
        0.0,
        1.0,
        manager,
    )
    for p in CustomerPriority.objects.all():
        expected = sum(float(weights[t]) * getattr(p, f"term_{t}") for t in rules.TERMS)
        assert p.score == pytest.approx(expected, abs=1e-3)
    assert Event.objects.filter(verb="insights.weights_updated", actor=manager).count() == 1


def test_a_weight_out_of_range_is_refused_and_nothing_changes(scored, make_user):
    before = list(CustomerPriority.objects.order_by("customer_id").values_list("score", flat=True))
    weights = {**dict.fromkeys(rules.TERMS, "1"), "days_past_due": "11", "customer_risk": "2"}

    response = logged_in(make_user(Role.ADMIN)).post(reverse("insights-weights"), weights)

    assert response.status_code == 400
    assert "less than or equal to 10" in response.content.decode()
    assert not PriorityWeights.objects.filter(customer_risk=2.0).exists()
    assert list(CustomerPriority.objects.order_by("customer_id").values_list("score", flat=True)) == before
    assert not Event.objects.filter(verb="insights.weights_updated").exists()


@pytest.mark.parametrize("role", [Role.COLLECTOR, Role.VIEWER])
def test_only_managers_and_admins_see_or_set_the_weights(scored, make_user, role):
    client = logged_in(make_user(role))

    assert client.get(reverse("insights-weights")).status_code == 403
    assert client.post(reverse("insights-weights"), dict.fromkeys(rules.TERMS, "5")).status_code == 403
    assert not PriorityWeights.objects.filter(customer_risk=5.0).exists()


def test_without_the_csrf_token_a_change_of_weights_is_refused(scored, make_user):
    client = logged_in(make_user(Role.MANAGER), enforce_csrf_checks=True)

    response = client.post(reverse("insights-weights"), dict.fromkeys(rules.TERMS, "5"))

    assert response.status_code == 403
    assert not PriorityWeights.objects.filter(customer_risk=5.0).exists()
