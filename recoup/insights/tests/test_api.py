"""/api/v1/insights/…: every role reads, managers set the weights, bad input is a 4xx and never a 500."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from rest_framework.test import APIClient

from recoup.activity.models import Call
from recoup.core.models import Event
from recoup.insights import rules, services
from recoup.insights.models import CustomerPriority, InvoicePrediction
from recoup.insights.tests.support import D
from recoup.ledger import services as ledger
from recoup.users.models import Role
from recoup.users.services import token_create

pytestmark = pytest.mark.django_db
TODAY = D(2026, 6, 1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def client_for(make_user):
    def make(role: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=make_user(role), actor=None).key}")
        return client

    return make


def test_the_priorities_come_ranked_with_every_term_and_its_contribution(scored, client_for):
    response = client_for(Role.COLLECTOR).get("/api/v1/insights/priorities/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert len(rows) == CustomerPriority.objects.count() == 3
    first = rows[0]
    assert [t["term"] for t in first["terms"]] == list(rules.TERMS)
    assert sum(t["contribution"] for t in first["terms"]) == pytest.approx(first["score"], abs=1e-3)
    row = CustomerPriority.objects.get(customer_id=first["customer"])
    assert first["open_amount"] == f"{row.open_amount:.4f}"
    assert (first["risk"], first["is_baseline"], first["method"]) == (row.risk, False, "model")


def test_one_customers_priority_and_an_unknown_one(scored, client_for):
    reader = client_for(Role.VIEWER)
    customer = scored.customers[1]

    assert (
        reader.get(f"/api/v1/insights/priorities/{customer.pk}/").json()["customer_external_id"] == "CUST-1"
    )
    assert reader.get("/api/v1/insights/priorities/999999/").status_code == 404
    assert reader.get("/api/v1/insights/priorities/abc/").status_code == 404


def test_predictions_are_listed_and_filtered_by_customer(scored, client_for):
    customer = scored.customers[2]

    response = client_for(Role.RESOLVER).get(f"/api/v1/insights/predictions/?customer_id={customer.pk}")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == InvoicePrediction.objects.filter(customer=customer).count() > 0
    assert {r["model_version"] for r in rows} == {1}
    assert all(r["p10_date"] <= r["predicted_date"] <= r["p90_date"] for r in rows)


@pytest.mark.parametrize(
    "query", ["customer_id=abc", "customer_id=0", "method=magic", "customer_id=99999999999999999999"]
)
def test_bad_filters_are_a_400(scored, client_for, query):
    response = client_for(Role.VIEWER).get(f"/api/v1/insights/predictions/?{query}")

    assert response.status_code == 400


def test_every_role_reads_the_weights_and_only_managers_change_them(client_for):
    assert client_for(Role.VIEWER).get("/api/v1/insights/weights/").json() == rules.DEFAULT_WEIGHTS

    refused = client_for(Role.COLLECTOR).patch(
        "/api/v1/insights/weights/", {"days_past_due": 3}, format="json"
    )
    changed = client_for(Role.MANAGER).patch("/api/v1/insights/weights/", {"days_past_due": 3}, format="json")

    assert refused.status_code == 403
    assert changed.status_code == 200
    assert changed.json() == {**rules.DEFAULT_WEIGHTS, "days_past_due": 3.0}
    assert Event.objects.filter(verb="insights.weights_updated").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"days_past_due": -1}, "days_past_due"),
        ({"open_dispute": "lots"}, "open_dispute"),
        ({"risk": 2}, None),
    ],
)
def test_bad_weights_are_a_400_naming_the_field(client_for, body, field):
    response = client_for(Role.MANAGER).put("/api/v1/insights/weights/", body, format="json")

    assert response.status_code == 400
    if field:
        assert field in response.json()
    assert not Event.objects.filter(verb="insights.weights_updated").exists()


def test_a_weight_change_reranks_the_next_read(scored, client_for):
    manager = client_for(Role.MANAGER)
    for term in rules.TERMS:
        manager.patch("/api/v1/insights/weights/", {term: 0}, format="json")
    manager.patch("/api/v1/insights/weights/", {"about_to_pay": 1}, format="json")

    rows = manager.get("/api/v1/insights/priorities/").json()["results"]

    about = [next(t["points"] for t in r["terms"] if t["term"] == "about_to_pay") for r in rows]
    assert [r["score"] for r in rows] == about == sorted(about, reverse=True)


def test_the_forecast_in_json_and_csv(scored, client_for):
    reader = client_for(Role.VIEWER)

    data = reader.get("/api/v1/insights/forecast/?weeks=4").json()
    response = reader.get("/api/v1/insights/forecast/?weeks=4&format=csv")

    assert (data["as_of"], data["currency"], len(data["weeks"])) == ("2026-06-01", "USD", 4)
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="cash-forecast-2026-06-01.csv"' in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0] == ["week", "start", "end", "expected", "low", "high"]
    assert [row[3] for row in table[1:5]] == [w["expected"] for w in data["weeks"]]


@pytest.mark.parametrize("weeks", ["0", "53", "x"])
def test_a_bad_forecast_horizon_is_a_400(scored, client_for, weeks):
    response = client_for(Role.VIEWER).get(f"/api/v1/insights/forecast/?weeks={weeks}&format=csv")

    assert response.status_code == 400
    assert "weeks" in response.json()


def test_the_forecast_before_any_scoring_is_a_400_that_says_why(client_for):
    response = client_for(Role.VIEWER).get("/api/v1/insights/forecast/")

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["There are no predictions yet: run `recoup insights score` first."]
    }


def test_models_and_backtests_are_listed_without_the_estimators(scored, client_for, settings):
    settings.RECOUP_INSIGHTS_MIN_SETTLED = 10
    services.backtest_run(actor=None, cutoff=D(2026, 3, 1))
    reader = client_for(Role.VIEWER)

    model = reader.get("/api/v1/insights/models/1/").json()
    backtests = reader.get("/api/v1/insights/backtests/?kind=payments").json()["results"]

    assert (model["version"], model["is_active"], model["invoices"]) == (1, True, 36)
    assert "estimator" not in model
    assert [b["cutoff"] for b in backtests] == ["2026-03-01"]
    assert "mae_days" in backtests[0]["results"]
    assert reader.get("/api/v1/insights/backtests/?kind=other").status_code == 400


def test_reading_needs_a_login(client_for):
    assert APIClient().get("/api/v1/insights/weights/").status_code in (401, 403)
    assert APIClient().get("/api/v1/insights/priorities/").status_code in (401, 403)


def test_the_ranking_reads_a_page_in_a_fixed_number_of_queries(scored, client_for, django_assert_num_queries):
    reader = client_for(Role.VIEWER)
    reader.get("/api/v1/insights/priorities/")  # the token and the user, looked up once

    with django_assert_num_queries(5):  # the user by token, the weights, the count, the page, its customers
        reader.get("/api/v1/insights/priorities/")


# The next best action --------------------------------------------------------------------------------------


@pytest.fixture
def touched(books):
    """Two customers with an overdue invoice; A, which has a phone number, answered a call at 14:00 UTC on a
    Wednesday."""
    a = books.customer("NBA-A", segment="retail")
    ledger.contact_create(actor=None, customer=a, name="AP", phone="+1 555 0100")
    b = books.customer("NBA-B", segment="retail")
    for customer in (a, b):
        books.invoice(customer, D(2026, 5, 1))
    paid = books.invoice(a, D(2026, 3, 1))
    Call.objects.create(
        customer=a, outcome="reached", called_at=dt.datetime(2026, 3, 4, 14, 0, tzinfo=dt.UTC)
    )
    books.pay(paid, "100.00", D(2026, 3, 11))  # day 7
    return a, b


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COLLECTOR, Role.MANAGER, Role.ADMIN, Role.RESOLVER])
def test_every_role_reads_a_customers_next_best_action_with_its_evidence(touched, client_for, role):
    a, _ = touched

    response = client_for(role).get(f"/api/v1/insights/next-actions/{a.pk}/")

    assert response.status_code == 200
    data = response.json()
    assert (data["customer"], data["channel"], data["contact_channel"], data["wait_reason"]) == (
        a.pk,
        "call",
        "call",
        "",
    )
    assert (data["weekday"], data["hour"], data["tone"], data["timezone"]) == (0, 9, "friendly", "UTC")
    assert data["channel_evidence"][0] == {
        "option": "call",
        "n": 1,
        "k": 1,
        "rate": 1.0,
        "smoothed": pytest.approx((1 + 4 * (1 + 4 * 0.6) / 5) / 5),  # all customers: 1 of 1, base 3/5
        "source": "customer",
    }
    assert data["hour_evidence"]["source"] == "default"
    assert data["similar_group"] == "all customers"


def test_next_best_actions_for_a_list_of_customers_repeated_or_comma_separated(touched, client_for):
    a, b = touched
    reader = client_for(Role.VIEWER)

    repeated = reader.get(f"/api/v1/insights/next-actions/?customer_id={b.pk}&customer_id={a.pk}")
    commas = reader.get(f"/api/v1/insights/next-actions/?customer_id={b.pk},{a.pk},999999")

    assert repeated.status_code == commas.status_code == 200
    assert [r["customer"] for r in repeated.json()] == [b.pk, a.pk]
    assert repeated.json() == commas.json()  # an unknown customer is left out
    assert repeated.json()[0]["channel_evidence"][0]["source"] == "all"


@pytest.mark.parametrize(
    "query",
    ["", "?customer_id=abc", "?customer_id=0", "?customer_id=1,,x", "?customer_id=99999999999999999999"],
)
def test_bad_customer_ids_are_a_400_naming_the_field(client_for, query):
    response = client_for(Role.VIEWER).get(f"/api/v1/insights/next-actions/{query}")

    assert response.status_code == 400
    assert list(response.json()) == ["customer_id"]


def test_at_most_100_customers_at_a_time(client_for):
    ids = ",".join(str(i) for i in range(1, 102))

    response = client_for(Role.VIEWER).get(f"/api/v1/insights/next-actions/?customer_id={ids}")

    assert response.status_code == 400
    assert response.json() == {"customer_id": ["At most 100 customers at a time."]}


def test_an_unknown_customer_is_a_404_and_reading_needs_a_login(touched, client_for):
    a, _ = touched

    assert client_for(Role.VIEWER).get("/api/v1/insights/next-actions/999999/").status_code == 404
    assert client_for(Role.VIEWER).get("/api/v1/insights/next-actions/abc/").status_code == 404
    assert APIClient().get(f"/api/v1/insights/next-actions/{a.pk}/").status_code in (401, 403)
    assert APIClient().get(f"/api/v1/insights/next-actions/?customer_id={a.pk}").status_code in (401, 403)
