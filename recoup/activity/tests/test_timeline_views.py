"""The timeline panel of the customer page: who sees which actions, each action in two requests (its form,
then the submit), errors on their fields, escaping, CSRF, filters, "older" pages, and queries that do not grow
with the history."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recoup.activity.models import Call, EntryKind, Note, Promise, TimelineEntry
from recoup.activity.services import note_add, task_create, timeline_add
from recoup.core.models import Notification
from recoup.dunning.manual import message_template_save
from recoup.dunning.models import OutboundMessage
from recoup.ledger import services as ledger
from recoup.ledger.tests.test_views import logged_in
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
D = dt.date


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def acme(books):
    customer = books.customer("ACME", emails=(), name="Acme Corp")
    ledger.contact_create(actor=None, customer=customer, name="Pat Payables", email="pat@acme.example")
    a1 = books.invoice(customer, D(2026, 2, 1), "300.00", external_id="A-1")
    a2 = books.invoice(customer, D(2026, 2, 15), "120.00", external_id="A-2")
    return customer, a1, a2


def htmx(client: Client, method: str, url: str, data=None):
    return getattr(client, method)(url, data or {}, headers={"HX-Request": "true"})


def urls(customer) -> dict[str, str]:
    return {
        name: reverse(f"activity-{name}", args=[customer.pk])
        for name in ("timeline", "timeline-items", "call", "note", "email", "email-preview")
    }


def test_the_customer_page_loads_the_activity_panel(acme, viewer):
    customer, *_ = acme
    html = logged_in(viewer).get(reverse("customer-detail", args=[customer.pk])).content.decode()

    url = reverse("activity-timeline", args=[customer.pk])
    assert f'<div id="customer-activity" hx-get="{url}" hx-trigger="load" hx-swap="outerHTML">' in html
    assert "dunning/customers/" not in html.split('id="customer-activity"')[1].split("</div>")[0]


def test_a_viewer_reads_the_timeline_but_gets_no_action(acme, viewer):
    customer, *_ = acme
    client = logged_in(viewer)
    response = htmx(client, "get", urls(customer)["timeline"])
    html = response.content.decode()

    assert response.status_code == 200
    assert html.lstrip().startswith("{% comment %}") is False
    assert '<div class="columns" id="customer-activity">' in html
    assert "Nothing has happened with this customer yet." in html
    assert 'id="timeline-actions"' not in html
    for name in ("call", "note", "email", "email-preview"):
        assert htmx(client, "get", urls(customer)[name]).status_code == 403
        assert htmx(client, "post", urls(customer)[name], {"body": "x"}).status_code == 403
    assert (Call.objects.count(), Note.objects.count(), OutboundMessage.objects.count()) == (0, 0, 0)


def test_a_resolver_may_add_notes_but_not_log_calls_or_send_emails(acme, make_user):
    customer, *_ = acme
    client = logged_in(make_user(Role.RESOLVER, "rita"))
    html = htmx(client, "get", urls(customer)["timeline"]).content.decode()

    assert 'id="add-note-button"' in html and 'id="log-call-button"' not in html
    assert 'id="send-email-button"' not in html
    assert htmx(client, "get", urls(customer)["note"]).status_code == 200
    assert htmx(client, "get", urls(customer)["call"]).status_code == 403
    assert htmx(client, "post", urls(customer)["email"], {}).status_code == 403


def test_anonymous_users_are_sent_to_log_in(acme):
    customer, *_ = acme
    for url in urls(customer).values():
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_collector_logs_a_call_with_a_promise_in_two_requests(acme, collector):
    customer, a1, a2 = acme
    client = logged_in(collector)

    form = htmx(client, "get", urls(customer)["call"]).content.decode()
    assert form.lstrip().startswith("<form") or 'id="call-form"' in form
    assert 'hx-post="' + urls(customer)["call"] + '"' in form
    assert "A-1 (due 2026-02-01)" in form and "A-2 (due 2026-02-15)" in form
    response = htmx(
        client,
        "post",
        urls(customer)["call"],
        {
            "outcome": "reached",
            "duration_minutes": "6",
            "notes": "Pat will pay A-1 on Friday <b>for sure</b>",
            "invoices": [a1.pk, a2.pk],
            "promise_amount": "300.00",
            "promise_date": "2026-03-06",
            "promise_invoices": [a1.pk],
            "promise_channel": "call",
        },
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert 'id="activity-notice"' in html
    assert "Call logged: reached. Promise to pay 300.00 USD by 2026-03-06 recorded." in html
    call = Call.objects.get()
    assert (call.outcome, call.duration_seconds, call.actor_id) == ("reached", 360, collector.pk)
    promise = Promise.objects.get()
    assert list(promise.invoices.values_list("external_id", flat=True)) == ["A-1"]
    assert (promise.amount, promise.promised_date) == (Decimal("300.00"), D(2026, 3, 6))
    titles = re.findall(r'<span class="timeline-title">([^<]+)</span>', html)
    assert titles == ["Promise to pay 300.00 USD by 2026-03-06", "Call: reached, 6 min"]
    assert "Pat will pay A-1 on Friday &lt;b&gt;for sure&lt;/b&gt;" in html and "<b>for sure" not in html
    assert f'<a class="mono" href="{reverse("invoice-detail", args=[a1.pk])}">A-1</a>' in html
    assert 'id="call-form"' not in html  # the form closed


def test_a_promise_half_filled_comes_back_with_its_field_error_and_nothing_is_written(acme, collector):
    customer, *_ = acme
    response = htmx(
        logged_in(collector), "post", urls(customer)["call"], {"outcome": "reached", "promise_amount": "10"}
    )
    html = response.content.decode()

    assert response.status_code == 200 and 'id="call-form"' in html
    assert "Say by when the customer promised to pay." in html
    refused = htmx(
        logged_in(collector),
        "post",
        urls(customer)["call"],
        {"outcome": "voicemail", "promise_amount": "10", "promise_date": "2026-03-09"},
    ).content.decode()
    assert "A promise to pay needs a call that reached someone." in refused
    assert (Call.objects.count(), Promise.objects.count()) == (0, 0)


def test_a_note_tells_the_colleagues_it_mentions(acme, collector, make_user):
    customer, *_ = acme
    make_user(Role.MANAGER, "mia")
    html = htmx(
        logged_in(collector),
        "post",
        urls(customer)["note"],
        {"body": "@mia please approve <script>x</script>"},
    ).content.decode()

    assert "Note added. Told by email: mia." in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert Notification.objects.get().to_email == "mia@example.com"


@pytest.mark.django_db(transaction=True)  # the request commits, and the email goes out on that commit
def test_an_email_is_sent_once_whatever_the_number_of_submits(acme, collector, smtp):
    customer, a1, _ = acme
    template = message_template_save(
        actor=None,
        name="Nudge",
        language="en",
        subject="About {{ total_due }}",
        body="Hello {{ contact_name }}",
    )
    client = logged_in(collector)
    form = htmx(client, "get", urls(customer)["email"]).content.decode()
    [key] = re.findall(r'name="request_key" value="([0-9a-f]{32})"', form)
    preview = htmx(
        client,
        "get",
        urls(customer)["email-preview"],
        {"template": template.pk, "invoices": [a1.pk], "request_key": key},
    ).content.decode()
    assert '<p class="email-subject" id="email-preview-subject">About 300.00 USD</p>' in preview
    assert OutboundMessage.objects.count() == 0

    data = {"template": template.pk, "invoices": [a1.pk], "request_key": key}
    first = htmx(client, "post", urls(customer)["email"], data).content.decode()
    second = htmx(client, "post", urls(customer)["email"], data).content.decode()

    assert "Email sent to pat@acme.example: About 300.00 USD" in first
    assert "This email was already submitted (sent)." in second
    assert OutboundMessage.objects.get().request_key == key
    assert len(smtp.received) == 1
    assert "Email: About 300.00 USD" in second  # on the timeline


def test_posts_need_the_csrf_token(acme, collector):
    customer, *_ = acme
    client = Client(enforce_csrf_checks=True)
    client.force_login(collector)

    response = client.post(urls(customer)["note"], {"body": "hello"})

    assert response.status_code == 403 and Note.objects.count() == 0


def test_without_htmx_a_submit_redirects_to_the_customer_page(acme, collector):
    customer, *_ = acme
    response = logged_in(collector).post(urls(customer)["note"], {"body": "plain form"})

    assert response.status_code == 302 and response["Location"] == reverse(
        "customer-detail", args=[customer.pk]
    )
    page = logged_in(collector).get(urls(customer)["timeline"]).content.decode()
    assert "<title>Timeline · Acme Corp · Recoup</title>" in page and "plain form" in page


def test_filters_and_older_pages(acme, collector):
    customer, a1, a2 = acme
    for n in range(30):
        timeline_add(
            customer=customer,
            kind=EntryKind.NOTE,
            title=f"Note {n:02d}",
            occurred_at=NOW - dt.timedelta(hours=n + 1),
            invoices=[a2.pk] if n == 3 else [],
        )
    ledger.payment_create(
        actor=None,
        customer=customer,
        external_id="PAY-9",
        date=D(2026, 3, 2),
        amount=Decimal("100.00"),
        apply_to=[ledger.Application(a1, Decimal("100.00"))],
    )
    client = logged_in(collector)
    first = htmx(client, "get", urls(customer)["timeline"]).content.decode()
    [older] = re.findall(r'hx-get="([^"]+)" hx-target="#timeline-older"', first)
    second = htmx(client, "get", older.replace("&amp;", "&")).content.decode()
    payments = htmx(client, "get", urls(customer)["timeline-items"], {"kind": "payment"}).content.decode()
    about_a2 = htmx(client, "get", urls(customer)["timeline-items"], {"invoice": a2.pk}).content.decode()
    nothing = htmx(client, "get", urls(customer)["timeline-items"], {"kind": "call"}).content.decode()
    broken = htmx(client, "get", urls(customer)["timeline"], {"before": "garbage"}).content.decode()

    # PAY-9 stands at 2 March 00:00, just below Note 14 (recorded at that same instant).
    titles = re.findall(r'<span class="timeline-title">([^<]+)</span>', first)
    assert titles[13:17] == ["Note 13", "Note 14", "Payment PAY-9", "Note 15"]
    assert len(titles) == 25 and titles[0] == "Note 00" and titles[-1] == "Note 23"
    assert re.findall(r'<span class="timeline-title">([^<]+)</span>', second) == [
        f"Note {n}" for n in range(24, 30)
    ]
    assert 'id="timeline-older"' not in second and "Nothing has happened" not in second
    assert payments.count('class="timeline-entry') == 1 and "Payment PAY-9" in payments
    assert "100.00 USD" in payments
    assert about_a2.count('class="timeline-entry') == 1 and "Note 03" in about_a2
    assert "Nothing on the timeline matches these filters." in nothing
    assert "This is not a timeline position; start from the first page." in broken
    assert broken.count('class="timeline-entry') == 25


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert htmx(client, "get", url).status_code == 200
    return len(captured.captured_queries)


def test_the_panel_does_not_grow_its_queries_with_the_history(acme, collector):
    customer, a1, a2 = acme
    client = logged_in(collector)
    task_create(
        actor=None, customer=customer, kind="call", title="Call", due_date=D(2026, 3, 2), invoices=[a1]
    )
    ledger.credit_note_create(
        actor=None,
        customer=customer,
        external_id="CN-1",
        date=D(2026, 3, 1),
        amount=Decimal("5.00"),
        apply_to=[ledger.Application(a2, Decimal("5.00"))],
    )
    ledger.payment_create(
        actor=None, customer=customer, external_id="P-X", date=D(2026, 3, 1), amount=Decimal("2")
    )
    small = queries(client, urls(customer)["timeline"])
    for n in range(20):
        note_add(actor=collector, customer=customer, body=f"note {n}", invoices=[a1, a2])
        task_create(
            actor=None,
            customer=customer,
            kind="call",
            title=f"Call {n}",
            due_date=D(2026, 3, 2),
            invoices=[a2],
        )
        ledger.payment_create(
            actor=None,
            customer=customer,
            external_id=f"P-{n}",
            date=D(2026, 3, 1),
            amount=Decimal("1.00"),
            apply_to=[ledger.Application(a1, Decimal("1.00"))],
        )
    big = queries(client, urls(customer)["timeline"])
    forms = {name: queries(client, urls(customer)[name]) for name in ("call", "note", "email")}

    assert big == small
    assert TimelineEntry.objects.filter(customer=customer).count() == 41
    assert forms == {"call": forms["call"], "note": forms["note"], "email": forms["email"]}
    assert max(forms.values()) <= 8


def test_the_worklist_link_opens_the_suggested_form_and_the_suggestion_shows(acme, collector, viewer):
    customer, *_ = acme
    opened = htmx(logged_in(collector), "get", urls(customer)["timeline"], {"open": "call"}).content.decode()
    read_only = htmx(logged_in(viewer), "get", urls(customer)["timeline"], {"open": "call"}).content.decode()
    unknown = htmx(logged_in(collector), "get", urls(customer)["timeline"], {"open": "<x>"}).content.decode()
    page = logged_in(collector).get(reverse("customer-detail", args=[customer.pk]), {"next_action": "call"})

    assert 'id="call-form"' in opened and 'id="call-form"' not in read_only
    assert 'id="activity-form"></div>' in unknown
    url = reverse("activity-timeline", args=[customer.pk])
    assert f'hx-get="{url}?open=call"' in page.content.decode()
    # Overdue, nobody on it: the worklist suggests a first contact, shown above the actions.
    assert re.search(r'<p class="notice next-action" id="next-action" data-code="(call|email)">', opened)
