"""Who may do what: every role reads, only admins and managers write the ledger, nobody anonymous."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from recoup.core.models import Event
from recoup.ledger import services
from recoup.ledger.models import Allocation, Contact, CreditNote, Customer, FxRate, Invoice, Payment
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory
from recoup.users.models import Role

pytestmark = pytest.mark.django_db

LEDGER_MODELS = (Customer, Contact, Invoice, Payment, CreditNote, Allocation, FxRate)


@pytest.fixture
def ledger(manager):
    customer = CustomerFactory(external_id="C1")
    invoice = InvoiceFactory(external_id="I1", customer=customer, amount=Decimal("100.00"))
    payment = services.payment_create(
        actor=manager,
        customer=customer,
        external_id="P0",
        date=dt.date(2026, 2, 1),
        amount=Decimal("10.00"),
        apply_to=[services.Application(invoice)],
    )
    return customer, invoice, payment.allocations.get()


def writes(customer, invoice, allocation) -> list[tuple[str, str, object]]:
    """One valid request to every write endpoint."""
    return [
        ("post", "/api/v1/customers/", {"external_id": "C9", "name": "New"}),
        ("patch", f"/api/v1/customers/{customer.pk}/", {"name": "Renamed"}),
        ("put", f"/api/v1/customers/{customer.pk}/", {"external_id": "C1", "name": "Renamed"}),
        ("post", "/api/v1/contacts/", {"customer": "C1", "email": "ap@example.com"}),
        (
            "post",
            "/api/v1/invoices/",
            {
                "external_id": "I9",
                "customer": "C1",
                "issue_date": "2026-01-01",
                "due_date": "2026-01-31",
                "amount": "5.00",
            },
        ),
        (
            "post",
            "/api/v1/invoices/bulk/",
            [
                {
                    "external_id": "I8",
                    "customer": "C1",
                    "issue_date": "2026-01-01",
                    "due_date": "2026-01-31",
                    "amount": "5.00",
                }
            ],
        ),
        (
            "post",
            "/api/v1/payments/",
            {"external_id": "P9", "customer": "C1", "date": "2026-02-01", "amount": "5.00"},
        ),
        (
            "post",
            "/api/v1/payments/bulk/",
            [{"external_id": "P8", "customer": "C1", "date": "2026-02-01", "amount": "5.00"}],
        ),
        (
            "post",
            "/api/v1/credit-notes/",
            {"external_id": "N9", "customer": "C1", "date": "2026-02-01", "amount": "5.00"},
        ),
        ("post", "/api/v1/allocations/", {"kind": "write_off", "invoice": "I1", "amount": "1.00"}),
        ("post", f"/api/v1/allocations/{allocation.pk}/reverse/", {}),
        ("post", "/api/v1/fx-rates/", {"currency": "EUR", "date": "2026-01-01", "rate": "1.1"}),
    ]


def snapshot() -> tuple[object, ...]:
    return (
        *(model.objects.count() for model in LEDGER_MODELS),
        list(Customer.objects.values_list("name", flat=True)),
    )


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COLLECTOR, Role.RESOLVER])
def test_roles_without_ledger_write_get_403_everywhere_and_nothing_changes(client_for, ledger, role):
    client = client_for(role)
    before, events = snapshot(), Event.objects.count()
    for method, url, payload in writes(*ledger):
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code == 403, (method, url, response.status_code)
        assert response.json() == {"detail": "Your role does not allow this."}
    assert snapshot() == before
    assert Event.objects.count() == events


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_admins_and_managers_can_write_everywhere(client_for, ledger, role):
    client = client_for(role)
    statuses = [
        getattr(client, method)(url, payload, format="json").status_code
        for method, url, payload in writes(*ledger)
    ]
    assert statuses == [201, 200, 200, 201, 201, 201, 201, 201, 201, 201, 201, 201]


def test_every_role_reads(client_for, ledger):
    for role in Role.values:
        client = client_for(role)
        for url in (
            "/api/v1/customers/",
            "/api/v1/invoices/",
            "/api/v1/payments/",
            "/api/v1/allocations/",
            "/api/v1/contacts/",
            "/api/v1/credit-notes/",
            "/api/v1/fx-rates/",
        ):
            assert client.get(url).status_code == 200, (role, url)


def test_anonymous_requests_get_401_and_a_bad_token_too(ledger):
    anonymous = APIClient()
    before = snapshot()
    for method, url, payload in writes(*ledger):
        assert getattr(anonymous, method)(url, payload, format="json").status_code == 401
    response = anonymous.get("/api/v1/invoices/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert anonymous.get("/api/v1/reports/aging?as_of=2026-01-01").status_code == 401
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert anonymous.get("/api/v1/invoices/").status_code == 401
    assert snapshot() == before


def test_inactive_users_token_is_refused(client_for, manager):
    client = client_for(manager)
    manager.is_active = False
    manager.save()
    assert client.get("/api/v1/invoices/").status_code == 401


def test_session_auth_enforces_csrf(make_user):
    make_user(Role.MANAGER, "sam")
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="sam", password="pw-sam")
    assert client.get("/api/v1/customers/").status_code == 200
    response = client.post("/api/v1/customers/", {"external_id": "C1", "name": "Acme"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Customer.objects.exists()
    # The browser sends back the cookie a page set and the same token in a header (as htmx does).
    token_value = "k" * 32
    client.cookies[settings.CSRF_COOKIE_NAME] = token_value
    response = client.post(
        "/api/v1/customers/",
        {"external_id": "C1", "name": "Acme"},
        format="json",
        HTTP_X_CSRFTOKEN=token_value,
    )
    assert response.status_code == 201
    assert Customer.objects.get().name == "Acme"
