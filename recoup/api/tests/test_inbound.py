"""/api/v1/inbound-emails/: the list with its filters, one email, assign and ignore by role, and the
attachments' downloads. Refusals are 4xx naming the field, and change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recoup.activity.models import EntryKind, InboundStatus, MatchedBy, TimelineEntry
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/inbound-emails/"
DUE = dt.date(2026, 3, 2)


@pytest.fixture
def acme(books):
    customer = books.customer("ACME")
    books.invoice(customer, DUE, external_id="A-1")
    books.invoice(customer, DUE, external_id="A-2")
    return customer


def test_the_list_is_newest_first_and_filters_by_status_customer_and_automatic_reply(
    reader, acme, make_inbound
):
    waiting = make_inbound(subject="Who?", from_name="Pat")
    reply = make_inbound(subject="Away", customer=acme, matched_by=MatchedBy.SENDER, is_auto_reply=True)
    reply.invoices.set(acme.invoices.filter(external_id="A-1"))

    every = reader.get(URL).json()
    unmatched = reader.get(URL, {"status": "unmatched"}).json()
    of_acme = reader.get(URL, {"customer": "ACME"}).json()
    auto = reader.get(URL, {"is_auto_reply": "true"}).json()
    human = reader.get(URL, {"is_auto_reply": "false"}).json()

    assert [row["id"] for row in every["results"]] == [reply.pk, waiting.pk]
    row = every["results"][0]
    assert {
        k: row[k] for k in ("status", "matched_by", "customer", "customer_id", "invoices", "is_auto_reply")
    } == {
        "status": "matched",
        "matched_by": "sender",
        "customer": "ACME",
        "customer_id": acme.pk,
        "invoices": ["A-1"],
        "is_auto_reply": True,
    }
    assert (row["subject"], row["attachment_count"], row["assigned_by"]) == ("Away", 0, None)
    assert "body_text" not in row
    assert [r["id"] for r in unmatched["results"]] == [waiting.pk]
    assert [r["id"] for r in of_acme["results"]] == [reply.pk]
    assert [r["id"] for r in auto["results"]] == [reply.pk]
    assert [r["id"] for r in human["results"]] == [waiting.pk]
    assert reader.get(URL, {"customer": "x" * 65}).json()["count"] == 0
    nul = reader.get(URL, {"customer": "a\x00b"})
    assert (nul.status_code, nul.json()) == (400, {"customer": ["Null characters are not allowed."]})


@pytest.mark.parametrize(
    ("query", "field"), [({"status": "maybe"}, "status"), ({"is_auto_reply": "perhaps"}, "is_auto_reply")]
)
def test_a_bad_filter_is_a_400_naming_it(reader, query, field):
    response = reader.get(URL, query)

    assert response.status_code == 400 and list(response.json()) == [field]


def test_the_list_query_count_does_not_grow_with_its_rows(reader, books, make_inbound):
    make_inbound(customer=books.customer("C0"), attachments={"a.pdf": b"x"})
    with CaptureQueriesContext(connection) as one:
        reader.get(URL)
    for n in range(1, 6):
        make_inbound(customer=books.customer(f"C{n}"), attachments={"a.pdf": b"x"})

    with CaptureQueriesContext(connection) as six:
        assert reader.get(URL).json()["count"] == 6

    assert len(six) == len(one)


def test_one_email_has_its_bodies_headers_and_attachments(reader, make_inbound):
    email = make_inbound(
        subject="Remit",
        body_text="See attached",
        body_html="<p>See <b>attached</b></p>",
        message_id="<m1@bank.example>",
        in_reply_to="<dunning.1@acme.example>",
        attachments={"remit.pdf": b"%PDF-1.4"},
    )
    attachment = email.attachments.get()

    data = reader.get(f"{URL}{email.pk}/").json()

    assert (data["body_text"], data["body_html"], data["message_id"], data["in_reply_to"]) == (
        "See attached",
        "<p>See <b>attached</b></p>",
        "<m1@bank.example>",
        "<dunning.1@acme.example>",
    )
    assert data["attachments"] == [
        {
            "id": attachment.pk,
            "filename": "remit.pdf",
            "content_type": "application/pdf",
            "size": 8,
            "url": f"http://testserver{URL}{email.pk}/attachments/{attachment.pk}/",
        }
    ]
    download = reader.get(data["attachments"][0]["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4"
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == 'attachment; filename="remit.pdf"'
    assert download["X-Content-Type-Options"] == "nosniff"
    other = make_inbound()
    assert reader.get(f"{URL}{other.pk}/attachments/{attachment.pk}/").status_code == 404


def test_a_collector_assigns_an_email_by_external_ids(client_for, acme, make_inbound):
    collector = client_for(Role.COLLECTOR)
    email = make_inbound(subject="Plan")

    response = collector.post(
        f"{URL}{email.pk}/assign/", {"customer": "ACME", "invoices": ["A-2", "A-1"]}, format="json"
    )

    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["matched_by"], data["customer"], data["assigned_by"]) == (
        "assigned",
        "manual",
        "ACME",
        collector.user.username,
    )
    assert sorted(data["invoices"]) == ["A-1", "A-2"]
    entry = TimelineEntry.objects.get(kind=EntryKind.EMAIL_IN)
    assert (entry.customer_id, sorted(i.external_id for i in entry.invoices.all())) == (
        acme.pk,
        ["A-1", "A-2"],
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"customer": ["This field is required."]}),
        ({"customer": "NOPE"}, {"customer": ["No customer has the external id 'NOPE'."]}),
        ({"customer": "ACME", "invoices": ["X-9"]}, {"invoices": ["No invoice has the external id 'X-9'."]}),
        ({"customer": "ACME", "invoices": ["G-1"]}, {"invoices": ["G-1: not invoices of ACME."]}),
        (
            {"customer": "ACME", "invoices": "A-1"},
            {"invoices": ['Expected a list of items but got type "str".']},
        ),
        (
            {"customer": "ACME", "invoices": ["x" * 65]},
            {"invoices": {"0": ["Ensure this field has no more than 64 characters."]}},
        ),
        ({"customer": ["ACME"]}, {"customer": ["Invalid value."]}),
    ],
)
def test_a_bad_assignment_is_a_400_naming_the_field_and_changes_nothing(
    api, books, acme, make_inbound, body, errors
):
    books.invoice(books.customer("GLOBEX"), DUE, external_id="G-1")
    email = make_inbound()

    response = api.post(f"{URL}{email.pk}/assign/", body, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    email.refresh_from_db()
    assert (email.status, email.customer_id) == (InboundStatus.UNMATCHED, None)
    assert not TimelineEntry.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESOLVER])
def test_viewers_and_resolvers_get_403_and_nothing_changes(client_for, acme, make_inbound, role):
    someone = client_for(role)
    email = make_inbound()

    assert someone.post(f"{URL}{email.pk}/assign/", {"customer": "ACME"}, format="json").status_code == 403
    assert someone.post(f"{URL}{email.pk}/ignore/").status_code == 403
    email.refresh_from_db()
    assert (email.status, email.customer_id) == (InboundStatus.UNMATCHED, None)
    assert not TimelineEntry.objects.exists()


def test_ignoring_and_ignoring_again(api, make_inbound):
    email = make_inbound()

    first = api.post(f"{URL}{email.pk}/ignore/")
    again = api.post(f"{URL}{email.pk}/ignore/")

    assert (first.status_code, first.json()["status"]) == (200, "ignored")
    assert (again.status_code, again.json()) == (400, {"status": ["This email is ignored already."]})


def test_what_the_api_does_not_offer_is_a_405_or_404(api, make_inbound):
    email = make_inbound()

    assert api.post(URL, {}, format="json").status_code == 405
    assert api.patch(f"{URL}{email.pk}/", {"status": "matched"}, format="json").status_code == 405
    assert api.delete(f"{URL}{email.pk}/").status_code == 405
    assert api.get(f"{URL}99999999999999999999/").status_code == 404
    assert api.get(f"{URL}{email.pk}/attachments/999/").status_code == 404


def test_no_credentials_is_a_401(client, make_inbound):
    assert client.get(URL).status_code in (401, 403)
    assert client.get(URL).json() == {"detail": "Authentication credentials were not provided."}
