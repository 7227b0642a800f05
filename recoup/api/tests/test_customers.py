"""Customers and contacts through the API: created and changed by the services, read with filters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recoup.core.models import Event
from recoup.ledger.models import Contact, Customer
from recoup.ledger.tests.factories import CustomerFactory
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/customers/"


def test_create_customer_records_an_event_and_returns_both_ids(api, make_user):
    collector = make_user(Role.COLLECTOR, "cara")
    response = api.post(
        URL,
        {
            "external_id": "C1",
            "name": "Acme",
            "currency": "eur",
            "credit_limit": "5000.50",
            "collector": "cara",
            "timezone": "Europe/Paris",
            "country": "fr",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    customer = Customer.objects.get()
    body = response.json()
    assert body["id"] == customer.pk
    assert (body["external_id"], body["currency"], body["credit_limit"], body["country"]) == (
        "C1",
        "EUR",
        "5000.50",
        "FR",
    )
    assert (body["collector"], body["collector_id"]) == ("cara", collector.pk)
    assert customer.credit_limit == Decimal("5000.50")
    assert (
        Event.objects.filter(verb="customer.created", actor=api.user, target_id=str(customer.pk)).count() == 1
    )


def test_duplicate_external_id_is_a_field_error_not_a_crash(api):
    CustomerFactory(external_id="C1")
    response = api.post(URL, {"external_id": "C1", "name": "Again"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"external_id": ["A customer with external id 'C1' already exists."]}
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"country": "FRA"}, "country"),
        ({"currency": "EURO"}, "currency"),
        ({"credit_limit": "10.001"}, "credit_limit"),
        ({"currency": "JPY", "credit_limit": "10.5"}, "credit_limit"),
        ({"collector": "nobody"}, "collector"),
        ({"payment_terms_days": -3}, "payment_terms_days"),
    ],
)
def test_bad_customer_fields_are_refused_by_name(api, payload, field):
    response = api.post(URL, {"external_id": "C1", "name": "Acme", **payload}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Customer.objects.exists()


def test_patch_goes_through_customer_update_and_keeps_other_fields(api):
    customer = CustomerFactory(external_id="C1", name="Old", on_hold=False)
    response = api.patch(f"{URL}{customer.pk}/", {"name": "New", "on_hold": True}, format="json")
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.on_hold, customer.external_id) == ("New", True, "C1")
    event = Event.objects.get(verb="customer.updated")
    assert event.data == {"name": ["Old", "New"], "on_hold": [False, True]}


def test_patch_to_an_external_id_already_taken_is_refused(api):
    CustomerFactory(external_id="C1")
    other = CustomerFactory(external_id="C2")
    response = api.patch(f"{URL}{other.pk}/", {"external_id": "C1"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["external_id"]
    other.refresh_from_db()
    assert other.external_id == "C2"
    # Keeping its own external id is no clash.
    assert api.patch(f"{URL}{other.pk}/", {"external_id": "C2"}, format="json").status_code == 200


def test_delete_is_not_offered(api):
    customer = CustomerFactory()
    assert api.delete(f"{URL}{customer.pk}/").status_code == 405
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_search_filters_and_ordering(reader, make_user):
    cara = make_user(Role.COLLECTOR, "cara")
    CustomerFactory(external_id="A-1", name="Zeta Corp", collector=cara)
    CustomerFactory(external_id="B-2", name="Alpha Ltd", on_hold=True)
    CustomerFactory(external_id="ZZ", name="Beta Zeta")

    def ids(query: str) -> list[str]:
        response = reader.get(f"{URL}?{query}")
        assert response.status_code == 200
        return [row["external_id"] for row in response.json()["results"]]

    assert ids("") == ["B-2", "ZZ", "A-1"]  # by name
    assert ids("search=zeta") == ["ZZ", "A-1"]
    assert ids("search=b-2") == ["B-2"]
    assert ids("collector=cara") == ["A-1"]
    assert ids(f"collector_id={cara.pk}") == ["A-1"]
    assert ids("on_hold=true") == ["B-2"]
    assert ids("external_id=ZZ") == ["ZZ"]
    assert ids("ordering=-external_id") == ["ZZ", "B-2", "A-1"]


def test_pagination_defaults_to_100_and_caps_page_size_at_1000(reader):
    Customer.objects.bulk_create(Customer(external_id=f"C{i:04d}", name=f"N{i:04d}") for i in range(1005))
    first = reader.get(URL).json()
    assert (first["count"], len(first["results"])) == (1005, 100)
    assert first["next"].endswith("page=2")
    assert len(reader.get(f"{URL}?page_size=7").json()["results"]) == 7
    assert len(reader.get(f"{URL}?page_size=5000").json()["results"]) == 1000


def test_contacts_are_created_by_customer_external_id(api):
    customer = CustomerFactory(external_id="C1")
    response = api.post(
        "/api/v1/contacts/", {"customer": "C1", "name": "Pat", "email": "ap@acme.test"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["customer"] == "C1"
    assert response.json()["customer_id"] == customer.pk
    assert list(Contact.objects.values_list("customer__external_id", "email", "is_ap")) == [
        ("C1", "ap@acme.test", True)
    ]
    listed = api.get("/api/v1/customers/").json()["results"][0]["contacts"]
    assert [c["email"] for c in listed] == ["ap@acme.test"]


def test_contact_needs_an_email_or_a_phone_and_a_known_customer(api):
    CustomerFactory(external_id="C1")
    response = api.post("/api/v1/contacts/", {"customer": "C1", "name": "Pat"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"email": ["A contact needs an email address or a phone number."]}
    response = api.post("/api/v1/contacts/", {"customer": "NOPE", "phone": "+1 555"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"customer": ["No customer has the external id 'NOPE'."]}
    assert not Contact.objects.exists()
