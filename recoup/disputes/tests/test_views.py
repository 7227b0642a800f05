"""The dispute pages: exact content for each role, every POST's effect and, when refused, its absence (403
or 404, nothing written), htmx partials, documents served only to who may see them, and query counts that
do not grow with the rows."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recoup.core.models import Event
from recoup.disputes import defaults, services
from recoup.disputes.models import (
    Dispute,
    DisputeComment,
    DisputeDocument,
    DisputeReason,
    DisputeStatusChange,
)
from recoup.ledger.models import Allocation, CreditNote
from recoup.ledger.tests.test_views import logged_in, tables
from recoup.users.models import Role, Team, User

D = dt.date
TODAY = D(2026, 3, 16)
pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
ROLES = [Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER, Role.VIEWER]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture(autouse=True)
def reasons(db):
    """The migration's reasons (a transactional test's flush removes them)."""
    return {reason.code: reason for reason in defaults.install_reasons()}


@pytest.fixture
def world(books, make_user, collector):
    """As of 2026-03-16. Acme (collected by `collector`) owes A-1, 300.00 due 2026-03-02, and A-2, 1,000.00
    due 2026-03-18; Beta owes B-1, 500.00 due 2026-02-01. Billing disputes 120.00 of A-1 (pricing, opened
    2026-03-10, on track); Logistics disputes 200.00 of B-1 (damaged goods, opened 2026-02-20, its SLA
    ended 2026-03-06). Rita resolves for Billing, Otto for Logistics."""
    billing, logistics = Team.objects.create(name="Billing"), Team.objects.create(name="Logistics")
    rita = make_user(Role.RESOLVER, "rita")
    otto = make_user(Role.RESOLVER, "otto")
    rita.team, otto.team = billing, logistics
    rita.save()
    otto.save()
    acme = books.customer("ACME", name="Acme Corp", collector=collector)
    a1 = books.invoice(acme, D(2026, 3, 2), "300.00", external_id="A-1")
    a2 = books.invoice(acme, D(2026, 3, 18), "1000.00", external_id="A-2")
    beta = books.customer("BETA", name="Beta GmbH")
    b1 = books.invoice(beta, D(2026, 2, 1), "500.00", external_id="B-1")
    billing_dispute = services.dispute_open(
        actor=None, invoice=a1, reason="pricing", amount="120.00", opened_on=D(2026, 3, 10), team=billing
    )
    logistics_dispute = services.dispute_open(
        actor=None,
        invoice=b1,
        reason="damaged_goods",
        amount="200.00",
        opened_on=D(2026, 2, 20),
        team=logistics,
        note="Two pallets arrived crushed.",
    )
    return {
        "billing": billing,
        "logistics": logistics,
        "rita": rita,
        "otto": otto,
        "acme": acme,
        "a1": a1,
        "a2": a2,
        "b1": b1,
        "mine": billing_dispute,  # rita's team's
        "theirs": logistics_dispute,
    }


def htmx(client: Client, method: str, url: str, data=None):
    return getattr(client, method)(url, data or {}, headers={"HX-Request": "true"})


def pdf(name: str = "delivery-note.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/octet-stream")


def user_for(role: str, world, make_user) -> User:
    """A user of the role; a resolver is Billing's Rita."""
    return world["rita"] if role == Role.RESOLVER else make_user(role)


class _Text(HTMLParser):
    """The text of each element that has an id: {id: "its text, whitespace collapsed"}."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, list[str]] = {}
        self.open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        element_id = dict(attrs).get("id")
        self.open.append(element_id)
        if element_id:
            self.texts.setdefault(element_id, [])

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for element_id in self.open:
            if element_id:
                self.texts[element_id].append(data)


def texts(response) -> dict[str, str]:
    parser = _Text()
    parser.feed(response.content.decode())
    return {key: " ".join(" ".join(parts).split()) for key, parts in parser.texts.items()}


def form_ids(response) -> set[str]:
    html = response.content.decode()
    names = ["comment-form", "upload-form", "assign-form", "review-form", "resolve-form", "open-dispute-form"]
    return {name for name in names if f'id="{name}"' in html}


def snapshot(media: Path) -> tuple:
    return (
        list(
            Dispute.objects.order_by("pk").values_list(
                "pk", "status", "owner_id", "team_id", "outcome", "amount", "credit_note_id", "write_off_id"
            )
        ),
        DisputeComment.objects.count(),
        DisputeDocument.objects.count(),
        DisputeStatusChange.objects.count(),
        CreditNote.objects.count(),
        Allocation.objects.count(),
        Event.objects.count(),
        sorted(DisputeReason.objects.values_list("pk", "code", "name", "sla_days", "is_active", "position")),
        sorted(str(p) for p in media.rglob("*") if p.is_file()) if media.exists() else [],
    )


# Access -----------------------------------------------------------------------------------------------------


def page_urls(world) -> dict[str, str]:
    document = services.dispute_attach(actor=None, dispute=world["mine"], upload=pdf())
    return {
        "queue": reverse("dispute-list"),
        "dispute": reverse("dispute-detail", args=[world["mine"].pk]),
        "document": reverse("dispute-document", args=[world["mine"].pk, document.pk]),
        "invoice-panel": reverse("dispute-invoice-panel", args=[world["a1"].pk]),
        "reasons": reverse("dispute-reason-list"),
    }


def test_every_page_needs_a_sign_in(world):
    for name, url in page_urls(world).items():
        response = Client().get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(f"{reverse('login')}?next="), name


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_every_page(world, make_user, role):
    client = logged_in(user_for(role, world, make_user))
    for name, url in page_urls(world).items():
        assert client.get(url).status_code == 200, name


@pytest.mark.parametrize(
    ("role", "forms", "outcomes"),
    [
        (
            Role.ADMIN,
            {"comment-form", "upload-form", "assign-form", "review-form", "resolve-form"},
            ["credit_note", "rejected", "customer_paid", "written_off"],
        ),
        (
            Role.MANAGER,
            {"comment-form", "upload-form", "assign-form", "review-form", "resolve-form"},
            ["credit_note", "rejected", "customer_paid", "written_off"],
        ),
        (
            Role.RESOLVER,
            {"comment-form", "upload-form", "assign-form", "review-form", "resolve-form"},
            ["credit_note", "rejected", "customer_paid"],
        ),
        (Role.COLLECTOR, {"comment-form", "upload-form"}, []),
        (Role.VIEWER, set(), []),
    ],
)
def test_the_dispute_page_shows_each_role_the_forms_it_may_use(world, make_user, role, forms, outcomes):
    response = logged_in(user_for(role, world, make_user)).get(
        reverse("dispute-detail", args=[world["mine"].pk])
    )
    assert response.status_code == 200
    assert form_ids(response) == forms
    html = response.content.decode()
    assert [f'<option value="{o}"' in html for o in outcomes] == [True] * len(outcomes)
    assert ('<option value="written_off"' in html) == ("written_off" in outcomes)
    assert ('id="dispute-actions"' in html) == bool(outcomes)
    assert ("Writing a dispute off needs an AR manager." in html) == (role == Role.RESOLVER)
    # Every role reads the same summary and details.
    shown = texts(response)
    assert shown["dispute-head"] == f"Disputes / Acme Corp / A-1 Dispute #{world['mine'].pk} on A-1 Open"
    assert shown["dispute-amount"] == "120.00 USD"
    assert shown["dispute-invoice-open"] == "300.00 USD"
    assert shown["dispute-reason"] == "Pricing"
    assert shown["dispute-owner"] == "Team Billing"
    assert shown["dispute-team"] == "Team Billing"
    assert shown["dispute-sla-due"] == "2026-03-20"
    assert shown["dispute-sla"] == "On track"
    assert shown["dispute-facts"] == (
        "Invoice A-1 300.00 USD, due 2026-03-02 Customer Acme Corp Status Open Opened 2026-03-10 "
        "Owner Team Billing"
    )
    assert shown["story"] == "2026-03-16 12:00 Status Opened · Recoup"


@pytest.mark.parametrize(
    ("role", "can_open"),
    [
        (Role.ADMIN, True),
        (Role.MANAGER, True),
        (Role.COLLECTOR, True),
        (Role.RESOLVER, False),
        (Role.VIEWER, False),
    ],
)
def test_the_invoice_panel_offers_the_open_form_to_who_may_open(world, make_user, role, can_open):
    client = logged_in(user_for(role, world, make_user))
    url = reverse("dispute-invoice-panel", args=[world["a1"].pk])
    response = htmx(client, "get", url)
    # The form is behind a button, which loads it into the panel.
    assert form_ids(response) == set()
    assert ('id="open-dispute-button"' in response.content.decode()) == can_open
    assert (f'hx-get="{url}?form=open" hx-target="#disputes-panel"' in response.content.decode()) == can_open
    opened = htmx(client, "get", url + "?form=open")
    assert form_ids(opened) == ({"open-dispute-form"} if can_open else set())
    assert 'id="open-dispute-button"' not in opened.content.decode()
    shown = texts(response)
    assert shown["dispute-room"] == (
        "Open 300.00 USD Under dispute 120.00 USD Open and not disputed 180.00 USD"
    )
    assert tables(response)["invoice-disputes"] == [
        [
            f"#{world['mine'].pk}",
            "2026-03-10",
            "Pricing",
            "120.00 USD",
            "Team Billing",
            "Open",
            "2026-03-20 On track",
        ]
    ]


def test_the_reasons_page_reads_for_everyone_and_edits_for_managers(world, make_user):
    expected = [
        ["pricing", "Pricing", "10 days", "—", "Yes", "1"],
        ["quantity", "Quantity", "10 days", "—", "Yes", "0"],
        ["damaged_goods", "Damaged goods", "14 days", "—", "Yes", "1"],
        ["not_received", "Not received", "7 days", "—", "Yes", "0"],
        ["duplicate_billing", "Duplicate billing", "5 days", "—", "Yes", "0"],
        ["tax", "Tax", "10 days", "—", "Yes", "0"],
        ["other", "Other", "14 days", "—", "Yes", "0"],
    ]
    for role in ROLES:
        response = logged_in(user_for(role, world, make_user)).get(reverse("dispute-reason-list"))
        manages = role in (Role.ADMIN, Role.MANAGER)
        rows = tables(response)["reasons"]
        assert [row[:6] for row in rows] == expected, role
        assert [row[6] for row in rows] == ["Edit" if manages else ""] * 7, role
        html = response.content.decode()
        assert ('id="reason-form"' in html) == manages, role
        assert ("AR managers edit the reasons." in html) == (not manages), role


def test_a_resolver_sees_only_their_teams_disputes(world, media):
    theirs = world["theirs"]
    document = services.dispute_attach(actor=None, dispute=theirs, upload=pdf("crushed.pdf"))
    client = logged_in(world["rita"])
    before = snapshot(media)
    assert client.get(reverse("dispute-detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("dispute-document", args=[theirs.pk, document.pk])).status_code == 404
    posts = {
        "dispute-comment": {"body": "Mine now"},
        "dispute-attach": {"file": pdf()},
        "dispute-assign": {"owner": world["rita"].pk},
        "dispute-review": {},
        "dispute-resolve": {"outcome": "rejected"},
    }
    for name, data in posts.items():
        assert client.post(reverse(name, args=[theirs.pk]), data).status_code == 404, name
    assert snapshot(media) == before
    queue = tables(client.get(reverse("dispute-list"), {"status": "any"}))["disputes"]
    assert [row[1] for row in queue] == ["A-1"]
    # The invoice panel of B-1 lists none of it, and says that others' exist.
    panel = htmx(client, "get", reverse("dispute-invoice-panel", args=[world["b1"].pk]))
    assert tables(panel)["invoice-disputes"] == [["No disputes on this invoice."]]
    assert "1 more dispute on this invoice belongs to other teams." in panel.content.decode()
    # Otto, of Logistics, downloads it.
    response = logged_in(world["otto"]).get(reverse("dispute-document", args=[theirs.pk, document.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF


def write_posts(world, reasons) -> dict[str, tuple[str, dict]]:
    """(url, data) of every write, each valid, in an order that lets one user make them all."""
    mine = world["mine"].pk
    pricing = reasons["pricing"]
    return {
        "open": (reverse("dispute-open", args=[world["a2"].pk]), {"reason": "tax", "amount": "10.00"}),
        "comment": (reverse("dispute-comment", args=[mine]), {"body": "Price list attached."}),
        "attach": (reverse("dispute-attach", args=[mine]), {}),
        "assign": (reverse("dispute-assign", args=[mine]), {"owner": world["rita"].pk}),
        "review": (reverse("dispute-review", args=[mine]), {"note": "Checking"}),
        "write_off": (reverse("dispute-resolve", args=[mine]), {"outcome": "written_off", "amount": "20.00"}),
        "resolve": (reverse("dispute-resolve", args=[mine]), {"outcome": "rejected"}),
        "reason_add": (
            reverse("dispute-reason-list"),
            {
                "code": "late_delivery",
                "name": "Late delivery",
                "sla_days": "6",
                "position": "9",
                "is_active": "on",
            },
        ),
        "reason_edit": (
            reverse("dispute-reason-edit", args=[pricing.pk]),
            {"code": "pricing", "name": "Price", "sla_days": "8", "position": "0", "is_active": "on"},
        ),
    }


# What each role may do (one of "resolve" and "write_off" each, since either closes the dispute) …
ALLOWED = {
    Role.ADMIN: {"open", "comment", "attach", "assign", "review", "write_off", "reason_add", "reason_edit"},
    Role.MANAGER: {"open", "comment", "attach", "assign", "review", "write_off", "reason_add", "reason_edit"},
    Role.RESOLVER: {"comment", "attach", "assign", "review", "resolve"},
    Role.COLLECTOR: {"open", "comment", "attach"},
    Role.VIEWER: set(),
}
# … and what it may not.
REFUSED = {
    Role.RESOLVER: {"open", "write_off", "reason_add", "reason_edit"},
    Role.COLLECTOR: {"assign", "review", "resolve", "write_off", "reason_add", "reason_edit"},
    Role.VIEWER: {
        "open",
        "comment",
        "attach",
        "assign",
        "review",
        "resolve",
        "write_off",
        "reason_add",
        "reason_edit",
    },
}


@pytest.mark.parametrize("role", REFUSED)
def test_a_write_the_role_may_not_make_is_a_403_and_writes_nothing(world, reasons, make_user, media, role):
    client = logged_in(user_for(role, world, make_user))
    before = snapshot(media)
    for name in REFUSED[role]:
        url, data = write_posts(world, reasons)[name]
        response = client.post(url, {**data, **({"file": pdf()} if name == "attach" else {})})
        assert response.status_code == 403, name
        response = htmx(client, "post", url, {**data, **({"file": pdf()} if name == "attach" else {})})
        assert response.status_code == 403, name
    assert snapshot(media) == before


@pytest.mark.parametrize("role", ROLES)
def test_each_write_the_role_may_make_is_made(world, reasons, make_user, role):
    client = logged_in(user_for(role, world, make_user))
    for name, (url, data) in write_posts(world, reasons).items():
        if name not in ALLOWED[role]:
            continue
        response = client.post(url, {**data, **({"file": pdf()} if name == "attach" else {})})
        assert response.status_code == 302, (name, response.content.decode()[-2000:])
    mine = Dispute.objects.get(pk=world["mine"].pk)
    allowed = ALLOWED[role]
    assert Dispute.objects.filter(invoice=world["a2"]).exists() == ("open" in allowed)
    assert mine.comments.count() == ("comment" in allowed)
    assert mine.documents.count() == ("attach" in allowed)
    assert (mine.owner_id == world["rita"].pk) == ("assign" in allowed)
    expected_status = "resolved" if allowed & {"resolve", "write_off"} else "open"
    assert mine.status == expected_status
    assert mine.outcome == (
        "written_off" if "write_off" in allowed else "rejected" if "resolve" in allowed else ""
    )
    assert DisputeReason.objects.filter(code="late_delivery").exists() == ("reason_add" in allowed)
    assert DisputeReason.objects.get(code="pricing").sla_days == (8 if "reason_edit" in allowed else 10)


def test_posts_need_a_sign_in_and_the_csrf_token(world, reasons, manager, media):
    before = snapshot(media)
    for name, (url, data) in write_posts(world, reasons).items():
        response = Client().post(url, data)
        assert response.status_code == 302, name
        assert response["Location"].startswith(f"{reverse('login')}?next="), name
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    for name, (url, data) in write_posts(world, reasons).items():
        assert client.post(url, data).status_code == 403, name
    assert snapshot(media) == before


def test_the_navigation_has_the_disputes_link(world, viewer):
    client = logged_in(viewer)
    html = client.get(reverse("dispute-list")).content.decode()
    assert f'<a href="{reverse("dispute-list")}" aria-current="page">Disputes</a>' in html
    html = client.get(reverse("customer-list")).content.decode()
    assert f'<a href="{reverse("dispute-list")}">Disputes</a>' in html


# The queue --------------------------------------------------------------------------------------------------


def test_the_queue_lists_the_active_disputes_oldest_first(world, manager):
    response = logged_in(manager).get(reverse("dispute-list"))
    mine, theirs = world["mine"], world["theirs"]
    assert tables(response)["disputes"] == [
        [
            f"#{theirs.pk}",
            "B-1",
            "Beta GmbH",
            "200.00 USD",
            "Damaged goods",
            "Team Logistics",
            "Open",
            "2026-02-20",
            "24",
            "2026-03-06 SLA overdue",
        ],
        [
            f"#{mine.pk}",
            "A-1",
            "Acme Corp",
            "120.00 USD",
            "Pricing",
            "Team Billing",
            "Open",
            "2026-03-10",
            "6",
            "2026-03-20 On track",
        ],
    ]
    html = response.content.decode()
    # The overdue SLA is red (a class) and says so in words; the other is not.
    assert f'<tr id="dispute-{theirs.pk}" class="row-overdue">' in html
    assert (
        '<td class="sla sla-overdue overdue"><span class="date">2026-03-06</span> '
        '<span class="badge badge-danger">SLA overdue</span></td>'
    ) in html
    assert f'<tr id="dispute-{mine.pk}">' in html
    assert '<td class="sla sla-on_track"><span class="date">2026-03-20</span>' in html
    assert html.count("SLA overdue") == 1


def test_the_queue_figures(world, manager):
    # One more, resolved in 5 days within its 10-day SLA.
    done = services.dispute_open(
        actor=None, invoice=world["a2"], reason="tax", amount="50.00", opened_on=D(2026, 3, 1)
    )
    services.dispute_resolve(actor=None, dispute=done, outcome="rejected", resolved_on=D(2026, 3, 6))
    shown = texts(logged_in(manager).get(reverse("dispute-list")))
    assert shown["figure-open"] == "2"
    assert shown["figure-cycle"] == "5 days"
    assert shown["figure-cycle-sub"] == "mean; median 5 days · 1 resolved since 2025-12-17"
    assert shown["figure-sla"] == "100%"
    # Overdue on 2026-03-16: A-1 300.00 and B-1 500.00; under dispute 120.00 and 200.00 of them.
    assert shown["figure-share"] == "40%"
    assert shown["figure-share-sub"] == "320.00 USD of 800.00 USD"
    assert shown["figure-reasons"] == "Damaged goods 1 Pricing 1"


def test_a_resolvers_figures_cover_their_teams_disputes(world):
    shown = texts(logged_in(world["rita"]).get(reverse("dispute-list")))
    assert shown["figure-open"] == "1"
    assert shown["figure-reasons"] == "Pricing 1"
    assert shown["figure-share-sub"] == "120.00 USD of 800.00 USD"


def rows_for(client: Client, **query: str) -> list[str]:
    """The invoice of each row (or the empty table's words)."""
    return [
        row[1] if len(row) > 1 else row[0]
        for row in tables(client.get(reverse("dispute-list"), query))["disputes"]
    ]


def test_the_queue_filters(world, manager):
    services.dispute_assign(actor=None, dispute=world["theirs"], owner=manager)
    resolved = services.dispute_open(actor=None, invoice=world["a2"], reason="tax", opened_on=D(2026, 3, 12))
    services.dispute_resolve(actor=None, dispute=resolved, outcome="rejected", resolved_on=D(2026, 3, 13))
    services.dispute_review(actor=None, dispute=world["mine"])
    client = logged_in(manager)
    assert rows_for(client) == ["B-1", "A-1"]
    assert rows_for(client, status="any") == ["B-1", "A-1", "A-2"]
    assert rows_for(client, status="open") == ["B-1"]
    assert rows_for(client, status="in_review") == ["A-1"]
    assert rows_for(client, status="resolved") == ["A-2"]
    assert rows_for(client, status="any", reason="pricing") == ["A-1"]
    assert rows_for(client, sla="overdue") == ["B-1"]
    assert rows_for(client, sla="on_track") == ["A-1"]
    assert rows_for(client, sla="due_soon") == ["No disputes match these filters."]
    assert rows_for(client, status="any", sla="met") == ["A-2"]
    assert rows_for(client, scope="mine") == ["B-1"]
    assert rows_for(client, scope="team") == ["You are in no team, so no dispute is your team's."]
    assert rows_for(logged_in(world["rita"]), scope="team") == ["A-1"]
    assert rows_for(logged_in(world["rita"]), scope="mine") == ["No disputes match these filters."]
    response = client.get(reverse("dispute-list"), {"status": "lost"})
    assert tables(response)["disputes"] == [["No disputes match these filters."]]
    assert (
        "Status: Select a valid choice. lost is not one of the available choices."
        in response.content.decode()
    )


def test_htmx_gets_the_table_and_the_tabs_out_of_band(world, manager):
    client = logged_in(manager)
    full = client.get(reverse("dispute-list"), {"sla": "overdue"}).content.decode()
    assert '<nav class="mainnav"' in full and 'id="dispute-figures"' in full
    assert 'hx-get="/disputes/" hx-target="#dispute-table" hx-push-url="true"' in full
    response = htmx(client, "get", reverse("dispute-list") + "?sla=overdue&scope=all")
    html = response.content.decode()
    assert "<html" not in html and '<nav class="mainnav"' not in html and 'id="dispute-figures"' not in html
    assert html.lstrip().startswith('<table class="table table-framed" id="disputes">')
    assert (
        '<nav class="subnav queue-tabs" id="queue-tabs" aria-label="Whose disputes" hx-swap-oob="true">'
        in html
    )
    assert '<input type="hidden" name="scope" value="all" id="queue-scope">' in html
    # Each tab keeps the other filters.
    assert 'href="/disputes/?sla=overdue&amp;scope=team"' in html
    assert (
        'href="/disputes/?sla=overdue&amp;scope=mine" hx-get="/disputes/?sla=overdue&amp;scope=mine"' in html
    )
    assert tables(response)["disputes"][0][1] == "B-1"


def many(books, n: int) -> None:
    customer = books.customer(f"MANY{n}", name=f"Many {n}")
    for i in range(n):
        invoice = books.invoice(customer, D(2026, 3, 1), "10.00", external_id=f"M{n}-{i:03d}")
        services.dispute_open(actor=None, invoice=invoice, reason="other", opened_on=D(2026, 3, 5))


def queries(client: Client, url: str, *, partial: bool = False) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers={"HX-Request": "true"} if partial else {})
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_queue_does_not_grow_its_queries_with_rows(world, books, manager):
    client = logged_in(manager)
    url = reverse("dispute-list")
    small = (queries(client, url), queries(client, url, partial=True), queries(logged_in(world["rita"]), url))
    assert Dispute.objects.count() == 2
    many(books, 28)
    assert Dispute.objects.count() == 30
    big = (queries(client, url), queries(client, url, partial=True), queries(logged_in(world["rita"]), url))
    assert big == small
    assert len(tables(client.get(url))["disputes"]) == 30
    # session + user + reasons + the page's count and rows; the figures add a fixed few (PostgreSQL's aging
    # query adds its SET LOCALs).
    assert big[1] == 5
    assert big[0] == big[2] == (16 if connection.vendor == "postgresql" else 13)


def test_the_queue_pages_with_htmx_and_keeps_the_filters(world, books, manager):
    many(books, 53)
    client = logged_in(manager)
    response = htmx(client, "get", reverse("dispute-list") + "?reason=other&page=2")
    assert len(tables(response)["disputes"]) == 3
    html = response.content.decode()
    assert "51–53 of 53" in html
    assert (
        '<a href="?reason=other&amp;page=1" hx-get="/disputes/?reason=other&amp;page=1" '
        'hx-target="#dispute-table" hx-push-url="true" aria-label="First page">«</a>'
    ) in html


# The dispute page -------------------------------------------------------------------------------------------


def test_the_story_tells_status_changes_comments_and_documents_in_order(world, manager):
    mine = world["mine"]
    with time_machine.travel(dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC), tick=False):
        services.dispute_comment(actor=manager, dispute=mine, body="Asked for the price list.\nBy phone.")
    with time_machine.travel(dt.datetime(2026, 3, 16, 14, 0, tzinfo=dt.UTC), tick=False):
        services.dispute_attach(actor=world["rita"], dispute=mine, upload=pdf("price-list.pdf"))
    with time_machine.travel(dt.datetime(2026, 3, 16, 15, 0, tzinfo=dt.UTC), tick=False):
        services.dispute_review(actor=world["rita"], dispute=mine, note="Checking the contract")
    response = logged_in(manager).get(reverse("dispute-detail", args=[mine.pk]))
    document = DisputeDocument.objects.get()
    assert texts(response)["story"] == (
        "2026-03-16 12:00 Status Opened · Recoup "
        "2026-03-16 13:00 Comment manager wrote Asked for the price list. By phone. "
        f"2026-03-16 14:00 Document price-list.pdf · {len(PDF)} bytes · rita "
        "2026-03-16 15:00 Status Open → In review: Checking the contract · rita"
    )
    html = response.content.decode()
    assert f'<a href="/disputes/{mine.pk}/documents/{document.pk}/" download>price-list.pdf</a>' in html
    assert '<div class="story-comment">Asked for the price list.<br>By phone.</div>' in html


def test_a_comment_swaps_the_story_alone(world, collector):
    mine = world["mine"]
    client = logged_in(collector)
    response = htmx(
        client, "post", reverse("dispute-comment", args=[mine.pk]), {"body": "  Customer called.  "}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel panel-wide" id="dispute-story"')
    assert "<html" not in html and "hx-swap-oob" not in html
    assert '<p class="message message-success" role="status">Comment added.</p>' in html
    assert texts(response)["story"].endswith("Comment collector wrote Customer called.")
    assert list(mine.comments.values_list("body", "author__username")) == [("Customer called.", "collector")]
    # Without JavaScript: a redirect with the message.
    response = client.post(reverse("dispute-comment", args=[mine.pk]), {"body": "Again."})
    assert response.status_code == 302 and response["Location"] == reverse("dispute-detail", args=[mine.pk])
    assert mine.comments.count() == 2


def test_an_empty_comment_is_refused_on_its_field(world, collector, media):
    before = snapshot(media)
    client = logged_in(collector)
    response = htmx(client, "post", reverse("dispute-comment", args=[world["mine"].pk]), {"body": "   "})
    assert response.status_code == 200
    assert (
        '<span class="field-message" role="alert">This field is required.</span>' in response.content.decode()
    )
    response = client.post(reverse("dispute-comment", args=[world["mine"].pk]), {"body": ""})
    assert response.status_code == 200 and '<nav class="mainnav"' in response.content.decode()
    assert response.context["comment_form"].errors == {"body": ["This field is required."]}
    assert snapshot(media) == before


def test_a_document_is_stored_and_downloaded_as_an_attachment_that_runs_nothing(world, collector, media):
    mine = world["mine"]
    client = logged_in(collector)
    response = htmx(
        client, "post", reverse("dispute-attach", args=[mine.pk]), {"file": pdf("../../etc/Note 1.PDF")}
    )
    assert response.status_code == 200
    assert (
        '<p class="message message-success" role="status">Added Note_1.PDF.</p>' in response.content.decode()
    )
    document = DisputeDocument.objects.get()
    assert (document.name, document.content_type, document.size) == (
        "Note_1.PDF",
        "application/pdf",
        len(PDF),
    )
    assert Path(document.file.path).read_bytes() == PDF and Path(document.file.path).is_relative_to(media)
    response = client.get(reverse("dispute-document", args=[mine.pk, document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Note_1.PDF"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # A document asked for under another dispute is not found.
    other = reverse("dispute-document", args=[world["theirs"].pk, document.pk])
    assert client.get(other).status_code == 404


def test_a_file_of_a_refused_kind_shows_why_and_leaves_nothing(world, collector, media):
    before = snapshot(media)
    upload = SimpleUploadedFile("invoice.html", b"<script>alert(1)</script>", content_type="text/html")
    response = htmx(
        logged_in(collector), "post", reverse("dispute-attach", args=[world["mine"].pk]), {"file": upload}
    )
    assert response.status_code == 200
    html = response.content.decode().replace("&#x27;", "'")
    assert "'invoice.html' is not a kind of file a dispute accepts; use one of .pdf, .png" in html
    assert 'class="field-message" role="alert"' in html
    fake = SimpleUploadedFile("scan.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = htmx(
        logged_in(collector), "post", reverse("dispute-attach", args=[world["mine"].pk]), {"file": fake}
    )
    assert (
        "'scan.pdf' is not a .pdf file: its content is of another kind."
        in response.content.decode().replace("&#x27;", "'")
    )
    assert snapshot(media) == before


def test_assigning_swaps_the_actions_and_updates_the_summary_out_of_band(world, manager):
    mine, rita = world["mine"], world["rita"]
    response = htmx(logged_in(manager), "post", reverse("dispute-assign", args=[mine.pk]), {"owner": rita.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel" id="dispute-actions"')
    assert '<p class="message message-success" role="status">Assigned to rita (Billing).</p>' in html
    for oob in ("dispute-head", "dispute-summary", "dispute-details", "dispute-story"):
        assert re.search(rf'id="{oob}"[^>]*hx-swap-oob="true"', html), oob
    assert html.count('hx-swap-oob="true"') == 4
    shown = texts(response)
    assert (shown["dispute-owner"], shown["dispute-team"]) == ("rita", "Team Billing")
    mine.refresh_from_db()
    assert (mine.owner_id, mine.team_id) == (rita.pk, world["billing"].pk)


def test_the_owner_select_lists_active_users_who_may_own_disputes(
    world, manager, collector, viewer, make_user
):
    gone = make_user(Role.RESOLVER, "gone")
    gone.is_active = False
    gone.save()
    response = logged_in(manager).get(reverse("dispute-detail", args=[world["mine"].pk]))
    form = response.context["assign_form"]
    assert [label for _, label in form.fields["owner"].choices] == [
        "—",
        "collector",
        "manager",
        "otto (Logistics)",
        "rita (Billing)",
    ]
    assert [label for _, label in form.fields["team"].choices] == ["—", "Billing", "Logistics"]


def test_an_assignment_the_service_refuses_shows_on_its_field(world, manager, viewer, media):
    mine = world["mine"]
    client = logged_in(manager)
    before = snapshot(media)
    response = htmx(client, "post", reverse("dispute-assign", args=[mine.pk]), {"team": world["billing"].pk})
    assert response.status_code == 200
    assert (
        '<span class="field-message" role="alert">The dispute is owned so already.</span>'
        in response.content.decode()
    )
    assert "hx-swap-oob" not in response.content.decode()
    response = htmx(client, "post", reverse("dispute-assign", args=[mine.pk]), {})
    assert "Name a person or a team to own the dispute." in response.content.decode()
    response = htmx(client, "post", reverse("dispute-assign", args=[mine.pk]), {"owner": viewer.pk})
    assert "Select a valid choice." in response.content.decode()  # a viewer is not offered
    assert snapshot(media) == before


def test_a_resolver_who_gives_a_dispute_to_another_team_goes_back_to_the_queue(world):
    mine = world["mine"]
    client = logged_in(world["rita"])
    response = htmx(
        client, "post", reverse("dispute-assign", args=[mine.pk]), {"team": world["logistics"].pk}
    )
    assert response.status_code == 200 and response["HX-Redirect"] == reverse("dispute-list")
    mine.refresh_from_db()
    assert mine.team_id == world["logistics"].pk
    queue = client.get(reverse("dispute-list"))
    assert [str(m) for m in queue.context["messages"]] == [
        "Assigned to team Logistics. It is no longer on your queue."
    ]
    assert client.get(reverse("dispute-detail", args=[mine.pk])).status_code == 404


def test_review_moves_an_open_dispute_once(world, manager, media):
    mine = world["mine"]
    client = logged_in(manager)
    response = htmx(client, "post", reverse("dispute-review", args=[mine.pk]), {"note": "Checking"})
    shown = texts(response)
    assert shown["dispute-status"] == "In review"
    assert shown["story"].endswith("Status Open → In review: Checking · manager")
    assert 'id="review-form"' not in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == "in_review"
    before = snapshot(media)
    response = client.post(reverse("dispute-review", args=[mine.pk]), {})
    assert response.status_code == 200
    assert response.context["review_form"].errors == {"__all__": ["The dispute is in review, not open."]}
    assert snapshot(media) == before


def test_resolving_with_a_credit_note_writes_it_to_the_ledger(world, manager):
    mine, a1 = world["mine"], world["a1"]
    response = htmx(
        logged_in(manager),
        "post",
        reverse("dispute-resolve", args=[mine.pk]),
        {"outcome": "credit_note", "amount": "", "credit_note_external_id": "", "note": "Agreed 8.00 a unit"},
    )
    assert response.status_code == 200
    shown = texts(response)
    assert shown["dispute-status"] == "Resolved"
    assert shown["dispute-outcome"] == "Credit note"
    assert shown["dispute-ledger"] == f"Credit note DSP-{mine.pk} of 120.00 USD, applied to A-1 on 2026-03-16"
    assert shown["dispute-invoice-open"] == "180.00 USD"
    assert shown["dispute-sla"] == "SLA met"
    assert shown["dispute-closed"] == "Resolved on 2026-03-16: nothing more to do."
    assert 'id="resolve-form"' not in response.content.decode()
    note = CreditNote.objects.get()
    assert (note.external_id, note.amount, note.date) == (f"DSP-{mine.pk}", Decimal("120.00"), TODAY)
    a1.refresh_from_db()
    assert a1.open_amount == Decimal("180.00")
    mine.refresh_from_db()
    assert (mine.status, mine.outcome, mine.credit_note_id, mine.resolution_note) == (
        "resolved",
        "credit_note",
        note.pk,
        "Agreed 8.00 a unit",
    )


def test_a_manager_writes_off_part_of_a_dispute(world, manager):
    mine = world["mine"]
    response = logged_in(manager).post(
        reverse("dispute-resolve", args=[mine.pk]), {"outcome": "written_off", "amount": "20.00"}
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.write_off is not None
    assert (mine.write_off.amount, mine.write_off.kind) == (Decimal("20.00"), "write_off")
    shown = texts(logged_in(manager).get(reverse("dispute-detail", args=[mine.pk])))
    assert shown["dispute-ledger"] == "Write-off of 20.00 USD on 2026-03-16"
    assert shown["dispute-invoice-open"] == "280.00 USD"


def test_a_resolver_may_not_write_off(world, media):
    before = snapshot(media)
    client = logged_in(world["rita"])
    url = reverse("dispute-resolve", args=[world["mine"].pk])
    assert client.post(url, {"outcome": "written_off"}).status_code == 403
    assert htmx(client, "post", url, {"outcome": "written_off", "amount": "5"}).status_code == 403
    assert snapshot(media) == before


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"outcome": "rejected", "amount": "10"}, "amount", "A rejected outcome takes no amount."),
        (
            {"outcome": "credit_note", "amount": "120.01"},
            "amount",
            "The amount settled is more than zero and at most the disputed 120.00 USD.",
        ),
        (
            {"outcome": "credit_note", "credit_note_external_id": "CN-TAKEN"},
            "credit_note_external_id",
            "A credit note with external id 'CN-TAKEN' already exists.",
        ),
        ({"outcome": "lost"}, "outcome", "Select a valid choice. lost is not one of the available choices."),
    ],
)
def test_a_resolution_the_service_refuses_shows_on_its_field(
    world, books, manager, media, data, field, error
):
    books.credit(world["b1"], "1.00", TODAY)  # a credit note CN-… exists; rename it to the taken id
    CreditNote.objects.update(external_id="CN-TAKEN")
    before = snapshot(media)
    response = htmx(logged_in(manager), "post", reverse("dispute-resolve", args=[world["mine"].pk]), data)
    assert response.status_code == 200
    assert response.context["resolve_form"].errors == {field: [error]}
    assert "hx-swap-oob" not in response.content.decode()
    assert snapshot(media) == before


# The invoice page's panel -----------------------------------------------------------------------------------


def test_the_invoice_page_loads_the_disputes_panel(world, viewer):
    a1 = world["a1"]
    client = logged_in(viewer)
    html = client.get(reverse("invoice-detail", args=[a1.pk])).content.decode()
    url = reverse("dispute-invoice-panel", args=[a1.pk])
    assert f'<div id="disputes-panel" hx-get="{url}" hx-trigger="load" hx-swap="outerHTML">' in html
    partial = htmx(client, "get", url).content.decode()
    assert partial.lstrip().startswith('<section class="panel" id="disputes-panel"')
    assert "<html" not in partial
    page = client.get(url).content.decode()  # without JavaScript: a page of its own
    assert '<nav class="mainnav"' in page and "<h1>Disputes of invoice" in page


def test_opening_a_dispute_from_the_panel_redirects_to_it(world, collector):
    a2 = world["a2"]
    client = logged_in(collector)
    response = htmx(
        client,
        "post",
        reverse("dispute-open", args=[a2.pk]),
        {"amount": "", "reason": "quantity", "note": "Short by 4 boxes", "owner": world["rita"].pk},
    )
    dispute = Dispute.objects.get(invoice=a2)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("dispute-detail", args=[dispute.pk])
    assert (dispute.amount, dispute.reason.code, dispute.note, dispute.owner, dispute.team) == (
        Decimal("1000.00"),
        "quantity",
        "Short by 4 boxes",
        world["rita"],
        world["billing"],
    )
    assert (dispute.opened_on, dispute.sla_due_on, dispute.created_by) == (TODAY, D(2026, 3, 26), collector)
    page = client.get(response["HX-Redirect"])
    assert [str(m) for m in page.context["messages"]] == ["Dispute opened on A-2 for 1,000.00 USD."]
    # All of it is disputed now: the panel says so and offers no form.
    panel = htmx(client, "get", reverse("dispute-invoice-panel", args=[a2.pk]) + "?form=open")
    assert form_ids(panel) == set() and 'id="open-dispute-button"' not in panel.content.decode()
    assert texts(panel)["nothing-to-dispute"] == "All that is open is under dispute already."


def test_opening_without_javascript_is_a_post_and_a_redirect(world, manager):
    response = logged_in(manager).post(
        reverse("dispute-open", args=[world["a1"].pk]), {"amount": "30.5", "reason": "tax"}
    )
    dispute = Dispute.objects.get(invoice=world["a1"], reason__code="tax")
    assert response.status_code == 302 and response["Location"] == reverse(
        "dispute-detail", args=[dispute.pk]
    )
    assert dispute.amount == Decimal("30.50")


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        (
            {"amount": "180.01", "reason": "pricing"},
            "amount",
            "A-1 has 180.00 USD open and not yet disputed; a dispute of 180.01 would exceed it.",
        ),
        ({"amount": "12.345", "reason": "pricing"}, "amount", None),
        ({"amount": "-1", "reason": "pricing"}, "amount", "A dispute must be for more than zero."),
        (
            {"reason": "nope"},
            "reason",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
    ],
)
def test_an_opening_the_service_refuses_rerenders_the_panel_with_the_error(
    world, manager, media, data, field, error
):
    before = snapshot(media)
    response = htmx(logged_in(manager), "post", reverse("dispute-open", args=[world["a1"].pk]), data)
    assert response.status_code == 200 and "HX-Redirect" not in response
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel" id="disputes-panel"')
    errors = response.context["open_form"].errors
    assert list(errors) == [field]
    if error is not None:
        assert errors[field] == [error]
        assert f'<span class="field-message" role="alert">{error}</span>' in html
    assert snapshot(media) == before


def test_an_inactive_reason_is_not_offered(world, reasons, manager, media):
    DisputeReason.objects.filter(code="tax").update(is_active=False)
    url = reverse("dispute-invoice-panel", args=[world["a2"].pk]) + "?form=open"
    response = htmx(logged_in(manager), "get", url)
    assert form_ids(response) == {"open-dispute-form"}
    assert '<option value="tax"' not in response.content.decode()
    assert '<option value="quantity">Quantity</option>' in response.content.decode()
    before = snapshot(media)
    response = htmx(
        logged_in(manager), "post", reverse("dispute-open", args=[world["a2"].pk]), {"reason": "tax"}
    )
    assert list(response.context["open_form"].errors) == ["reason"]
    assert snapshot(media) == before


# Reasons ----------------------------------------------------------------------------------------------------


def test_a_manager_adds_a_reason_in_place(world, manager, make_user):
    response = htmx(
        logged_in(manager),
        "post",
        reverse("dispute-reason-list"),
        {
            "code": "late_delivery",
            "name": "Late delivery",
            "sla_days": "6",
            "default_team": world["billing"].pk,
            "position": "3",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="reason-section">') and "<html" not in html
    reason = DisputeReason.objects.get(code="late_delivery")
    assert (reason.name, reason.sla_days, reason.default_team, reason.position, reason.is_active) == (
        "Late delivery",
        6,
        world["billing"],
        3,
        True,
    )
    assert f'<tr id="reason-{reason.pk}" class="row-saved">' in html
    assert ["late_delivery", "Late delivery Saved", "6 days", "Billing", "Yes", "0", "Edit"] in tables(
        response
    )["reasons"]
    # A new dispute with that reason and nobody named is Billing's.
    dispute = services.dispute_open(actor=None, invoice=world["a2"], reason="late_delivery")
    assert dispute.team == world["billing"] and dispute.sla_due_on == D(2026, 3, 22)


def test_a_reason_is_edited_in_place(world, reasons, manager):
    quantity = reasons["quantity"]
    client = logged_in(manager)
    url = reverse("dispute-reason-edit", args=[quantity.pk])
    editor = htmx(client, "get", url).content.decode()
    assert editor.lstrip().startswith(f'<tr id="reason-{quantity.pk}" class="row-editing">')
    assert f'id="id_reason{quantity.pk}_sla_days"' in editor and 'value="10"' in editor
    cancel = htmx(client, "get", url + "?view=row")
    assert tables_of_rows(cancel) == [["quantity", "Quantity", "10 days", "—", "Yes", "0", "Edit"]]
    response = htmx(
        client, "post", url, {"code": "quantity", "name": "Quantity short", "sla_days": "12", "position": "1"}
    )
    assert tables_of_rows(response) == [
        ["quantity", "Quantity short Saved", "12 days", "—", "Inactive", "0", "Edit"]
    ]
    quantity.refresh_from_db()
    assert (quantity.name, quantity.sla_days, quantity.is_active) == ("Quantity short", 12, False)


class _Html:
    def __init__(self, html: str) -> None:
        self.content = html.encode()


def tables_of_rows(response) -> list[list[str]]:
    """The cells of a response that is table rows alone (an htmx swap of one row)."""
    return tables(_Html(f"<table id='rows'><tbody>{response.content.decode()}</tbody></table>"))["rows"]


@pytest.mark.parametrize(
    ("code", "data", "field", "error"),
    [
        (
            "pricing",
            {"code": "cost"},
            "code",
            "The code of a reason in use cannot change.",
        ),  # Billing's uses it
        ("quantity", {"code": "tax"}, "code", "A reason with code 'tax' exists already."),
        ("quantity", {"sla_days": "0"}, "sla_days", "Ensure this value is greater than or equal to 1."),
        ("quantity", {"sla_days": "366"}, "sla_days", "Ensure this value is less than or equal to 365."),
        ("quantity", {"code": "Not a slug!"}, "code", None),
    ],
)
def test_a_reason_edit_the_service_refuses_shows_on_its_field(
    world, reasons, manager, media, code, data, field, error
):
    reason = reasons[code]
    before = snapshot(media)
    form = {"code": code, "name": reason.name, "sla_days": "10", "position": "0", "is_active": "on", **data}
    response = htmx(logged_in(manager), "post", reverse("dispute-reason-edit", args=[reason.pk]), form)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    if error is not None:
        assert errors[field] == [error]
    assert snapshot(media) == before


@pytest.mark.parametrize("role", [Role.COLLECTOR, Role.RESOLVER, Role.VIEWER])
def test_only_managers_open_the_reason_editor(world, reasons, make_user, role):
    client = logged_in(user_for(role, world, make_user))
    assert client.get(reverse("dispute-reason-edit", args=[reasons["tax"].pk])).status_code == 403
