"""The inbound-email pages: the queue, one email shown safely, assigning and ignoring by role, and the
attachments' downloads. One test runs the whole path from a real Dovecot to the customer's timeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recoup.activity.inbound import Poller
from recoup.activity.models import EntryKind, InboundEmail, InboundStatus, Mailbox, MatchedBy, TimelineEntry
from recoup.activity.tests.test_inbound import mail
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
DUE = dt.date(2026, 3, 2)
HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(client, user):
    client.force_login(user)
    return client


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="inbound-(\d+)"', html)


def test_the_queue_shows_unmatched_email_by_default_and_the_other_tabs_on_request(
    client, viewer, books, make_inbound
):
    acme = books.customer("ACME")
    waiting = make_inbound(subject="Who pays?", from_name="Pat")
    matched = make_inbound(subject="Paid", customer=acme, matched_by=MatchedBy.SENDER, is_auto_reply=True)
    ignored = make_inbound(subject="Spam", status=InboundStatus.IGNORED)
    logged_in(client, viewer)

    page = client.get("/inbound/").content.decode()
    matched_tab = client.get("/inbound/?show=matched").content.decode()
    every = client.get("/inbound/?show=all").content.decode()

    assert rows(page) == [str(waiting.pk)]
    assert '<span class="count" id="unmatched-count">1</span>' in page
    assert "Who pays?" in page and "Spam" not in page
    assert rows(matched_tab) == [str(matched.pk)]
    assert "Automatic reply</span>" in matched_tab and "ACME Ltd" in matched_tab
    assert rows(every) == [str(ignored.pk), str(matched.pk), str(waiting.pk)]
    assert 'aria-current="page">Inbound</a>' in page


def test_the_queue_searches_sender_and_subject_and_htmx_gets_only_the_table(client, viewer, make_inbound):
    make_inbound(subject="Remittance", from_address="treasury@bank.example")
    other = make_inbound(subject="Hello", from_address="pat@nowhere.example")
    logged_in(client, viewer)

    html = client.get("/inbound/?q=NOWHERE", **HTMX).content.decode()

    assert rows(html) == [str(other.pk)]
    assert html.lstrip().startswith('<table class="table table-framed" id="inbound-emails">')
    assert "<html" not in html


def test_the_queue_shows_the_mailboxs_last_error(client, viewer):
    Mailbox.objects.create(
        key="ar@imap.example:993/INBOX", last_error="Cannot reach the IMAP server: refused"
    )
    logged_in(client, viewer)

    html = client.get("/inbound/").content.decode()

    assert "the last poll failed: Cannot reach the IMAP server: refused" in html


def test_the_queues_query_count_does_not_grow_with_its_rows(client, viewer, books, make_inbound):
    acme = books.customer("ACME")
    make_inbound(customer=acme, attachments={"a.pdf": b"%PDF-1"})
    logged_in(client, viewer)
    with CaptureQueriesContext(connection) as one:
        client.get("/inbound/?show=all")
    for _ in range(6):
        make_inbound(customer=books.customer(f"C{InboundEmail.objects.count()}"), attachments={"b.pdf": b"x"})

    with CaptureQueriesContext(connection) as seven:
        html = client.get("/inbound/?show=all").content.decode()

    assert len(rows(html)) == 7
    assert len(seven) == len(one)


def test_an_email_is_shown_escaped_with_its_html_sandboxed(client, viewer, make_inbound):
    email = make_inbound(
        subject="<b>Bold</b> subject",
        from_name='"><script>alert(1)</script>',
        body_text="<script>alert('text')</script>\nline two",
        body_html='<p onclick="x()">Hi</p><img src="https://tracker.example/p.gif"><script>alert(2)</script>',
    )
    logged_in(client, viewer)

    response = client.get(f"/inbound/{email.pk}/")
    html = response.content.decode()

    assert response.status_code == 200
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;\nline two</pre>" in html
    assert "&lt;b&gt;Bold&lt;/b&gt; subject" in html
    frame = re.search(r'<iframe class="email-frame" id="email-html"[^>]*>', html).group(0)
    assert " sandbox " in frame and 'referrerpolicy="no-referrer"' in frame
    assert 'srcdoc="&lt;p onclick=&quot;x()&quot;&gt;Hi&lt;/p&gt;' in frame
    policy = response["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy and "default-src 'self'" in policy
    assert 'id="assign-form"' not in html and 'id="ignore-form"' not in html  # a viewer reads only


def test_the_picker_finds_customers_and_a_chosen_one_brings_its_invoices(
    client, collector, books, make_inbound
):
    acme = books.customer("ACME")
    books.customer("GLOBEX")
    named = books.invoice(acme, DUE, external_id="A-7")
    books.invoice(acme, DUE, external_id="A-8")
    email = make_inbound(subject="About A-7")
    logged_in(client, collector)

    found = client.get(
        f"/inbound/{email.pk}/?q=acm", HTTP_HX_TARGET="customer-results", **HTMX
    ).content.decode()
    panel = client.get(
        f"/inbound/{email.pk}/?customer={acme.pk}", HTTP_HX_TARGET="assign-panel", **HTMX
    ).content.decode()

    assert found.lstrip().startswith('<ul class="picker" id="customer-matches">')
    assert "ACME Ltd" in found and "GLOBEX" not in found
    assert panel.lstrip().startswith('<section class="panel" id="assign-panel"')
    assert f'<input type="hidden" name="customer" value="{acme.pk}">' in panel
    assert re.findall(r'name="invoices" value="(\d+)"( checked)?', panel) == [
        (str(named.pk), " checked"),  # named in the email: first, and ticked
        (str(named.pk + 1), ""),
    ]


def test_a_collector_assigns_an_email_from_the_page(client, collector, books, make_inbound):
    acme = books.customer("ACME")
    invoice = books.invoice(acme, DUE, external_id="A-1")
    email = make_inbound(subject="Question")
    logged_in(client, collector)

    response = client.post(f"/inbound/{email.pk}/assign/", {"customer": acme.pk, "invoices": [invoice.pk]})

    assert (response.status_code, response["Location"]) == (302, f"/inbound/{email.pk}/")
    email.refresh_from_db()
    assert (email.status, email.customer_id, email.assigned_by_id) == (
        InboundStatus.ASSIGNED,
        acme.pk,
        collector.pk,
    )
    entry = TimelineEntry.objects.get(kind=EntryKind.EMAIL_IN)
    assert (entry.customer_id, [i.pk for i in entry.invoices.all()]) == (acme.pk, [invoice.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Assigned to ACME Ltd; it is on the customer&#x27;s timeline." in page


def test_htmx_assigning_redirects_the_client_and_a_refusal_comes_back_in_the_panel(
    client, manager, books, make_inbound
):
    acme, globex = books.customer("ACME"), books.customer("GLOBEX")
    theirs = books.invoice(globex, DUE, external_id="G-1")
    email = make_inbound()
    logged_in(client, manager)

    refused = client.post(
        f"/inbound/{email.pk}/assign/", {"customer": acme.pk, "invoices": [theirs.pk]}, **HTMX
    )

    assert refused.status_code == 200 and refused.content.decode().lstrip().startswith(
        '<section class="panel"'
    )
    assert "G-1 is not ACME Ltd&#x27;s." in refused.content.decode()
    email.refresh_from_db()
    assert (email.status, email.customer_id) == (InboundStatus.UNMATCHED, None)
    assert not TimelineEntry.objects.exists()

    done = client.post(f"/inbound/{email.pk}/assign/", {"customer": acme.pk}, **HTMX)

    assert (done.status_code, done["HX-Redirect"]) == (200, f"/inbound/{email.pk}/")
    email.refresh_from_db()
    assert email.status == InboundStatus.ASSIGNED


def test_assigning_without_a_customer_is_a_400_on_the_page(client, collector, make_inbound):
    email = make_inbound()
    logged_in(client, collector)

    response = client.post(f"/inbound/{email.pk}/assign/", {"customer": "x"})

    assert response.status_code == 400 and "Choose the customer first." in response.content.decode()
    email.refresh_from_db()
    assert email.status == InboundStatus.UNMATCHED


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESOLVER])
def test_viewers_and_resolvers_get_403_on_assign_and_ignore(client, make_user, books, make_inbound, role):
    acme = books.customer("ACME")
    email = make_inbound()
    logged_in(client, make_user(role))

    assert client.post(f"/inbound/{email.pk}/assign/", {"customer": acme.pk}).status_code == 403
    assert client.post(f"/inbound/{email.pk}/ignore/").status_code == 403
    email.refresh_from_db()
    assert (email.status, email.customer_id) == (InboundStatus.UNMATCHED, None)
    assert not TimelineEntry.objects.exists()


def test_anonymous_users_are_sent_to_log_in(client, make_inbound):
    email = make_inbound()

    assert client.get("/inbound/").status_code == 302
    assert client.get(f"/inbound/{email.pk}/")["Location"].startswith("/login/")


def test_ignoring_an_email_from_the_page(client, collector, make_inbound):
    email = make_inbound(subject="Buy now")
    logged_in(client, collector)

    response = client.post(f"/inbound/{email.pk}/ignore/")
    again = client.post(f"/inbound/{email.pk}/ignore/")

    assert (response.status_code, response["Location"]) == (302, "/inbound/")
    assert again["Location"] == f"/inbound/{email.pk}/"
    email.refresh_from_db()
    assert (email.status, email.assigned_by_id) == (InboundStatus.IGNORED, collector.pk)
    assert "This email is ignored already." in client.get(again["Location"]).content.decode()


def test_an_attachment_downloads_as_opaque_bytes_never_opened_in_place(client, viewer, make_inbound):
    email = make_inbound(attachments={'evil".html': b"<script>alert(1)</script>"})
    other = make_inbound()
    attachment = email.attachments.get()
    logged_in(client, viewer)

    response = client.get(f"/inbound/{email.pk}/attachments/{attachment.pk}/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert client.get(f"/inbound/{other.pk}/attachments/{attachment.pk}/").status_code == 404


def test_from_dovecot_to_the_queue_to_the_customers_timeline(client, collector, books, imap):
    acme = books.customer("ACME", emails=("ap@acme-corp.example",))
    books.invoice(acme, DUE, external_id="A-1")
    message = mail(
        "Invoice question", sender="Stranger <stranger@elsewhere.example>", body="About A-1 and B-9"
    )
    message.add_attachment(b"%PDF-1.4 scan", maintype="application", subtype="pdf", filename="scan.pdf")
    imap.deliver(message)
    Poller().poll()
    email = InboundEmail.objects.get()
    assert (email.status, email.matched_by) == (InboundStatus.MATCHED, MatchedBy.INVOICE)  # A-1 names ACME
    logged_in(client, collector)

    page = client.get(f"/inbound/{email.pk}/").content.decode()
    download = client.get(f"/inbound/{email.pk}/attachments/{email.attachments.get().pk}/")

    assert "About A-1 and B-9" in page and "scan.pdf</a>" in page
    assert b"".join(download.streaming_content) == b"%PDF-1.4 scan"
    assert TimelineEntry.objects.get(kind=EntryKind.EMAIL_IN).customer_id == acme.pk
