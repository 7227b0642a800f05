"""The dunning pages: exact tables, role checks on every page and every write, refusals that change nothing,
and query counts that do not grow with the rows."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from recoup.activity import services as activity
from recoup.activity.models import Task, TimelineEntry
from recoup.core.models import Event
from recoup.disputes import services as disputes
from recoup.disputes.defaults import install_reasons
from recoup.dunning import defaults, delivery, policies, services, tasks
from recoup.dunning.models import (
    DunningHold,
    DunningLevel,
    DunningPolicy,
    DunningRun,
    DunningStep,
    DunningTemplate,
    InvoiceDunning,
    MessageStatus,
    OutboundMessage,
)
from recoup.ledger import services as ledger
from recoup.ledger.models import Customer, Invoice
from recoup.ledger.tests.test_views import logged_in, tables
from recoup.users.models import Role

D = dt.date
TODAY = D(2026, 3, 16)  # a Monday: reminders for today go out at 09:00, already past at noon
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def standard() -> DunningPolicy:
    """The migration's default policy, written again through the service (a no-op when it is there)."""
    policy, _ = services.policy_save(actor=None, spec=policies.parse_policy(defaults.DEFAULT_POLICY))
    return policy


def invoice(customer, external_id, *, due, amount="100.00", **fields) -> Invoice:
    return ledger.invoice_create(
        actor=None,
        customer=customer,
        external_id=external_id,
        issue_date=due - dt.timedelta(days=30),
        due_date=due,
        amount=Decimal(amount),
        **fields,
    )


def customer(external_id, name, *, email="", **fields) -> Customer:
    made = ledger.customer_create(actor=None, external_id=external_id, name=name, **fields)
    if email:
        ledger.contact_create(actor=None, customer=made, name="Pat Payables", email=email)
    return made


@pytest.fixture
def books(standard, collector):
    """As of 2026-03-16: Acme has one invoice 14 days overdue and one due in 2 days; Beta is on the
    do-not-dun list; Gamma's invoice falls due in 25 days."""
    acme = customer("ACME", "Acme Corp", email="ap@acme.example", collector=collector)
    a1 = invoice(acme, "A-1", due=D(2026, 3, 2), amount="300.00")
    a2 = invoice(acme, "A-2", due=D(2026, 3, 18), amount="1000.00")
    beta = customer("BETA", "Beta GmbH", email="ap@beta.example", do_not_dun=True)
    invoice(beta, "B-1", due=D(2026, 2, 1), amount="500.00")
    gamma = customer("GAMMA", "Gamma SA", email="ap@gamma.example")
    invoice(gamma, "G-1", due=D(2026, 4, 10), amount="80.00")
    return {"policy": standard, "acme": acme, "a1": a1, "a2": a2, "beta": beta, "gamma": gamma}


def level(policy: DunningPolicy, position: int) -> DunningLevel:
    return policy.levels.get(position=position)


def run(as_of=TODAY):
    return services.dunning_run(actor=None, as_of=as_of)


def htmx(client: Client, method: str, url: str, data=None, target: str = ""):
    headers = {"HX-Request": "true", **({"HX-Target": target} if target else {})}
    return getattr(client, method)(url, data or {}, headers=headers)


def failed_message(settings) -> OutboundMessage:
    """Acme's reminder after its one attempt found no SMTP server listening."""
    run()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket_nobody_listens() as port:
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
        settings.RECOUP_SMTP_MAX_ATTEMPTS = 1
        assert delivery.deliver_due().counts == {"failed": 1}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return OutboundMessage.objects.get()


class socket_nobody_listens:
    """A loopback port bound but never listening: a connection to it is refused."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# Access -----------------------------------------------------------------------------------------------------

ROLES = [Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER, Role.VIEWER]


def read_urls(books) -> dict[str, str]:
    policy, acme, a1 = books["policy"], books["acme"], books["a1"]
    reminder = level(policy, 2)
    result = run()
    assert result.run is not None
    message = OutboundMessage.objects.get()
    return {
        "policies": reverse("dunning-policy-list"),
        "policy": reverse("dunning-policy-detail", args=[policy.pk]),
        "policy-yaml": reverse("dunning-policy-yaml", args=[policy.pk]),
        "preview": reverse("dunning-level-preview", args=[reminder.pk]) + f"?customer={acme.pk}",
        "runs": reverse("dunning-run-list"),
        "run": reverse("dunning-run-detail", args=[result.run.pk]),
        "outbox": reverse("dunning-outbox"),
        "message": reverse("dunning-message-detail", args=[message.pk]),
        "invoice-panel": reverse("dunning-invoice-panel", args=[a1.pk]),
        "customer-panel": reverse("dunning-customer-panel", args=[acme.pk]),
        "customer-activity": reverse("activity-timeline", args=[acme.pk]),
    }


READ_PAGES = [
    "policies",
    "policy",
    "policy-yaml",
    "preview",
    "runs",
    "run",
    "outbox",
    "message",
    "invoice-panel",
    "customer-panel",
    "customer-activity",
]


@pytest.mark.parametrize("name", READ_PAGES)
def test_anonymous_is_sent_to_login(books, name):
    url = read_urls(books)[name]
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url.replace('?', '%3F').replace('=', '%3D')}"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_every_page(books, make_user, role):
    client = logged_in(make_user(role))
    for name, url in read_urls(books).items():
        response = client.get(url)
        assert response.status_code == 200, name


@pytest.mark.parametrize(("role", "status"), [(Role.MANAGER, 200), (Role.COLLECTOR, 403), (Role.VIEWER, 403)])
def test_edit_forms_are_for_managers(books, make_user, role, status):
    reminder = level(books["policy"], 2)
    client = logged_in(make_user(role))
    assert client.get(reverse("dunning-level-edit", args=[reminder.pk])).status_code == status
    assert client.get(reverse("dunning-template-edit", args=[reminder.pk, "en"])).status_code == status


def manager_posts(books) -> list[tuple[str, str, dict]]:
    """(name, url, data) of every write only managers may make, each with valid data."""
    policy, a1 = books["policy"], books["a1"]
    reminder = level(policy, 2)
    return [
        (
            "policy-settings",
            reverse("dunning-policy-detail", args=[policy.pk]),
            {"tolerance": "5", "default_language": "fr"},
        ),
        (
            "level",
            reverse("dunning-level-edit", args=[reminder.pk]),
            {
                "name": "Nudge",
                "offset_days": "4",
                "channels": ["email"],
                "min_amount": "0",
                "min_gap_days": "3",
            },
        ),
        (
            "template",
            reverse("dunning-template-edit", args=[reminder.pk, "en"]),
            {"subject": "Changed", "body": "Changed"},
        ),
        (
            "template-create",
            reverse("dunning-template-create", args=[reminder.pk]),
            {"language": "es", "subject": "Hola", "body": "Hola"},
        ),
        (
            "policy-import",
            reverse("dunning-policy-list"),
            {"file": SimpleUploadedFile("p.yaml", b"name: New\nlevels:\n- {name: One, offset_days: 1}\n")},
        ),
        ("run", reverse("dunning-run-list"), {"as_of": "2026-03-16"}),
        ("retry", reverse("dunning-message-retry", args=[999_999]), {}),  # refused before the look-up
        ("hold-create", reverse("dunning-invoice-hold", args=[a1.pk]), {"reason": "x"}),  # collectors may
    ]


def snapshot() -> tuple:
    return (
        Event.objects.count(),
        DunningRun.objects.count(),
        OutboundMessage.objects.count(),
        DunningHold.objects.count(),
        DunningPolicy.objects.count(),
        sorted(DunningTemplate.objects.values_list("pk", "subject", "language")),
        sorted(DunningLevel.objects.values_list("pk", "name", "offset_days")),
        sorted(DunningPolicy.objects.values_list("pk", "tolerance", "default_language")),
    )


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COLLECTOR, Role.RESOLVER, None])
def test_writes_need_the_role_and_a_refusal_writes_nothing(books, make_user, role):
    posts = manager_posts(books)
    client = logged_in(make_user(role)) if role else Client()
    before = snapshot()
    for name, url, data in posts:
        if name == "hold-create" and role in (Role.COLLECTOR, Role.RESOLVER):
            continue  # holds are for every writing role: tested below
        response = client.post(url, data)
        if role is None:
            assert response.status_code == 302, name
            assert response["Location"].startswith(f"{reverse('login')}?next="), name
        else:
            assert response.status_code == 403, name
    assert snapshot() == before
    assert mail.outbox == []


def test_holds_need_a_writing_role(books, make_user):
    a1, acme = books["a1"], books["acme"]
    hold = services.hold_create(actor=None, customer=acme, reason="Talking to their CFO")
    urls = [
        (reverse("dunning-invoice-hold", args=[a1.pk]), {"reason": "Awaiting a credit note"}),
        (reverse("dunning-customer-hold", args=[acme.pk]), {"reason": "Awaiting a credit note"}),
        (reverse("dunning-hold-release", args=[hold.pk]), {}),
    ]
    viewer = logged_in(make_user(Role.VIEWER))
    for url, data in urls:
        assert viewer.post(url, data).status_code == 403
        assert Client().post(url, data).status_code == 302
    assert DunningHold.objects.count() == 1
    assert DunningHold.objects.get().released_at is None
    collector = logged_in(make_user(Role.COLLECTOR))
    for url, data in urls:
        assert collector.post(url, data).status_code == 302
    assert DunningHold.objects.filter(released_at__isnull=True).count() == 2
    holds = DunningHold.objects.values_list("reason", "invoice_id", "released_at")
    assert {(reason, invoice_id, released is None) for reason, invoice_id, released in holds} == {
        ("Talking to their CFO", None, False),
        ("Awaiting a credit note", a1.pk, True),
        ("Awaiting a credit note", None, True),
    }


def test_csrf_is_enforced_on_writes(books, manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    response = client.post(reverse("dunning-run-list"), {"as_of": "2026-03-16"})
    assert response.status_code == 403
    assert DunningRun.objects.count() == 0


def test_navigation_has_the_dunning_link(books, viewer):
    html = logged_in(viewer).get(reverse("dunning-policy-list")).content.decode()
    assert f'<a href="{reverse("dunning-policy-list")}" aria-current="page">Dunning</a>' in html
    assert f'<a href="{reverse("dunning-outbox")}">Outbox</a>' in html


# Policies ---------------------------------------------------------------------------------------------------


def test_policy_list_counts_levels_and_assignments(books, manager):
    gentle, _ = services.policy_save(
        actor=None,
        spec=policies.parse_policy(
            {
                "name": "Gentle",
                "description": "Two soft reminders.",
                "levels": [{"name": "Nudge", "offset_days": 5}, {"name": "Nudge again", "offset_days": 20}],
            }
        ),
    )
    ledger.customer_update(actor=None, customer=books["gamma"], dunning_policy=gentle)
    invoice(books["acme"], "A-9", due=D(2026, 3, 30), dunning_policy=gentle)
    rows = tables(logged_in(manager).get(reverse("dunning-policy-list")))["policies"]
    assert rows == [
        ["Standard Default", defaults.DEFAULT_POLICY["description"], "6", "0", "0"],
        ["Gentle", "Two soft reminders.", "2", "1", "1"],
    ]


def test_policy_page_shows_the_levels_table(books, viewer):
    response = logged_in(viewer).get(reverse("dunning-policy-detail", args=[books["policy"].pk]))
    assert tables(response)["levels"] == [
        ["1", "Friendly notice", "3 days before due", "Email", "—", "—", "—", "de, en, fr", "Preview"],
        ["2", "Reminder", "3 days after due", "Email", "—", "3 days", "—", "de, en, fr", "Preview"],
        ["3", "Second reminder", "15 days after due", "Email", "—", "5 days", "—", "de, en, fr", "Preview"],
        ["4", "Call", "30 days after due", "Email, Call task", "—", "5 days", "—", "de, en, fr", "Preview"],
        ["5", "Final notice", "45 days after due", "Email", "—", "5 days", "—", "de, en, fr", "Preview"],
        [
            "6",
            "Escalation",
            "60 days after due",
            "—",
            "—",
            "—",
            "Review task for AR manager; credit hold",
            "de, en, fr",
            "Preview",
        ],
    ]
    html = response.content.decode()
    assert 'id="policy-settings"' not in html  # a viewer reads the settings, and edits nothing
    assert "AR managers edit policies." in html
    body = defaults.TEMPLATES["reminder"]["en"]["body"]
    assert tables(response)["templates-2"][1] == [
        "en",
        "{{ company_name }}: {{ level_name|lower }}, {{ total_due }} overdue",
        " ".join((body[:109] + "…").split()),
        "Preview",
    ]


def test_offsets_read_as_days_before_on_or_after_the_due_date():
    from recoup.dunning.views import offset_text

    assert [offset_text(n) for n in (-3, -1, 0, 1, 15)] == [
        "3 days before due",
        "1 day before due",
        "on the due date",
        "1 day after due",
        "15 days after due",
    ]


def test_a_manager_sees_the_edit_links_and_forms(books, manager):
    response = logged_in(manager).get(reverse("dunning-policy-detail", args=[books["policy"].pk]))
    assert tables(response)["levels"][0][-1] == "Edit · Preview"
    html = response.content.decode()
    assert 'id="policy-settings"' in html
    assert html.count("<summary>Add a language</summary>") == 6
    assert html.count('id="id_subject"') == 0  # each level's form has ids of its own


def test_policy_settings_save_through_the_policy_service(books, manager):
    policy = books["policy"]
    events = Event.objects.filter(verb="dunning_policy.updated", target_id=str(policy.pk))
    before = events.count()
    response = logged_in(manager).post(
        reverse("dunning-policy-detail", args=[policy.pk]),
        {"description": "Ours.", "tolerance": "5.50", "default_language": "fr", "allow_level_jump": "on"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dunning-policy-detail", args=[policy.pk])
    policy.refresh_from_db()
    assert (policy.description, policy.tolerance, policy.default_language, policy.allow_level_jump) == (
        "Ours.",
        Decimal("5.5000"),
        "fr",
        True,
    )
    assert policy.is_default  # the default stays the default: another policy takes it over
    assert policy.levels.count() == 6 and DunningTemplate.objects.filter(level__policy=policy).count() == 18
    assert events.count() == before + 1


def test_another_policy_is_made_the_default(books, manager):
    gentle, _ = services.policy_save(
        actor=None,
        spec=policies.parse_policy({"name": "Gentle", "levels": [{"name": "Nudge", "offset_days": 5}]}),
    )
    client = logged_in(manager)
    form = tables(client.get(reverse("dunning-policy-detail", args=[gentle.pk])))
    assert form["levels"][0][:3] == ["1", "Nudge", "5 days after due"]
    response = client.post(
        reverse("dunning-policy-detail", args=[gentle.pk]),
        {"tolerance": "1.00", "default_language": "en", "is_default": "on"},
    )
    assert response.status_code == 302
    assert list(DunningPolicy.objects.filter(is_default=True).values_list("name", flat=True)) == ["Gentle"]
    assert tables(client.get(reverse("dunning-policy-list")))["policies"][0][0] == "Gentle Default"


def test_a_bad_setting_shows_on_its_field_and_saves_nothing(books, manager):
    policy = books["policy"]
    before = snapshot()
    response = logged_in(manager).post(
        reverse("dunning-policy-detail", args=[policy.pk]), {"tolerance": "-1", "default_language": "en"}
    )
    assert response.status_code == 200
    assert response.context["settings_form"].errors == {
        "tolerance": ["Ensure this value is greater than or equal to 0."]
    }
    assert (
        '<span class="field-message" role="alert">Ensure this value is greater than or equal to 0.</span>'
        in (response.content.decode())
    )
    assert snapshot() == before


def test_a_level_is_edited_through_the_whole_policy(books, manager):
    policy = books["policy"]
    call = level(policy, 4)
    response = logged_in(manager).post(
        reverse("dunning-level-edit", args=[call.pk]),
        {
            "name": "Phone call",
            "offset_days": "28",
            "channels": ["call", "letter"],
            "min_amount": "250",
            "min_gap_days": "7",
            "task_role": "collector",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dunning-policy-detail", args=[policy.pk]) + "#level-4"
    call.refresh_from_db()
    assert (call.name, call.offset_days, call.channels, call.min_amount, call.min_gap_days) == (
        "Phone call",
        28,
        ["letter", "call"],
        Decimal("250.0000"),
        7,
    )
    assert (call.task_role, call.set_credit_hold) == ("collector", False)
    assert call.templates.count() == 3  # its templates came through untouched
    row = tables(logged_in(manager).get(reverse("dunning-policy-detail", args=[policy.pk])))["levels"][3]
    assert row[:7] == [
        "4",
        "Phone call",
        "28 days after due",
        "Letter (PDF), Call task",
        "250.00 USD",
        "7 days",
        "Review task for Collector",
    ]


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        (
            {"offset_days": "-5"},
            "offset_days",
            "Standard: level 2 (Reminder) has offset_days -5, which must be greater than level 1's -3.",
        ),
        ({"channels": []}, "channels", "Standard: level 2: a level needs a channel or an action."),
    ],
)
def test_a_level_the_policy_refuses_shows_the_reason_on_its_field(books, manager, data, field, error):
    reminder = level(books["policy"], 2)
    before = snapshot()
    form = {
        "name": "Reminder",
        "offset_days": "3",
        "channels": ["email"],
        "min_amount": "0",
        "min_gap_days": "3",
    }
    response = logged_in(manager).post(reverse("dunning-level-edit", args=[reminder.pk]), {**form, **data})
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [error]}
    html = response.content.decode().replace("&#x27;", "'")
    assert f'<span class="field-message" role="alert">{error}</span>' in html
    assert snapshot() == before


def test_a_template_is_saved_in_place_with_htmx(books, manager):
    reminder = level(books["policy"], 2)
    client = logged_in(manager)
    url = reverse("dunning-template-edit", args=[reminder.pk, "en"])
    editor = htmx(client, "get", url)
    html = editor.content.decode()
    assert html.lstrip().startswith(f'<tr id="template-{reminder.pk}-en" class="row-editing">')
    assert f'id="id_{reminder.pk}_en_subject"' in html and "<html" not in html
    response = htmx(client, "post", url, {"subject": "Overdue: {{ total_due }}", "body": "Please pay."})
    assert response.status_code == 200
    assert tables_of_rows(response) == [
        ["en", "Overdue: {{ total_due }} Saved", "Please pay.", "Edit · Preview"]
    ]
    template = reminder.templates.get(language="en")
    assert (template.subject, template.body) == ("Overdue: {{ total_due }}", "Please pay.")
    assert Event.objects.filter(verb="dunning_template.updated", target_id=str(template.pk)).count() == 1
    cancel = htmx(client, "get", url + "?view=row")
    assert tables_of_rows(cancel)[0][1] == "Overdue: {{ total_due }}"


def tables_of_rows(response) -> list[list[str]]:
    """A partial that is table rows only, parsed as the body of a table."""
    return tables(HttpResponse(f'<table id="t"><tbody>{response.content.decode()}</tbody></table>'))["t"]


@pytest.mark.parametrize(
    ("subject", "body", "field", "error"),
    [
        (
            "Overdue {% if %}",
            "Please pay.",
            "subject",
            "The en template: subject is not a valid template: Unexpected end of expression in if tag.",
        ),
        (
            "Overdue",
            "{% load static %}Please pay.",
            "body",
            "The en template: body is not a valid template: {% load %} is not allowed in a dunning template",
        ),
    ],
)
def test_a_template_that_cannot_render_is_refused_on_its_field(books, manager, subject, body, field, error):
    reminder = level(books["policy"], 2)
    before = snapshot()
    response = htmx(
        logged_in(manager),
        "post",
        reverse("dunning-template-edit", args=[reminder.pk, "en"]),
        {"subject": subject, "body": body},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="template-{reminder.pk}-en" class="row-editing">')
    assert response.context["form"].errors == {field: [error]}
    assert f'<span class="field-message" role="alert">{error}</span>' in html.replace("&#x27;", "'")
    assert snapshot() == before


def test_a_template_in_a_new_language_is_added(books, manager):
    reminder = level(books["policy"], 2)
    response = logged_in(manager).post(
        reverse("dunning-template-create", args=[reminder.pk]),
        {"language": " ES ", "subject": "Recordatorio", "body": "Hola {{ customer_name }}."},
    )
    assert response.status_code == 302
    assert list(reminder.templates.values_list("language", flat=True)) == ["de", "en", "es", "fr"]
    assert reminder.templates.get(language="es").subject == "Recordatorio"


def test_a_template_of_an_unknown_language_is_404(books, manager):
    reminder = level(books["policy"], 2)
    assert (
        logged_in(manager).get(reverse("dunning-template-edit", args=[reminder.pk, "xx"])).status_code == 404
    )


def test_the_policy_downloads_as_yaml_that_imports_back(books, viewer):
    policy = books["policy"]
    response = logged_in(viewer).get(reverse("dunning-policy-yaml", args=[policy.pk]))
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="standard.yaml"'
    assert response.content.decode() == policies.policy_as_yaml(policy)
    assert policies.parse_yaml(response.content.decode()).levels[3].channels == ["call", "email"]


def test_a_policy_file_is_imported(books, manager):
    text = b"name: Gentle\nlevels:\n- {name: Nudge, offset_days: 5}\n- {name: Nudge again, offset_days: 20}\n"
    response = logged_in(manager).post(
        reverse("dunning-policy-list"), {"file": SimpleUploadedFile("gentle.yaml", text)}
    )
    gentle = DunningPolicy.objects.get(name="Gentle")
    assert response.status_code == 302
    assert response["Location"] == reverse("dunning-policy-detail", args=[gentle.pk])
    assert list(gentle.levels.values_list("position", "name", "offset_days")) == [
        (1, "Nudge", 5),
        (2, "Nudge again", 20),
    ]


def test_a_bad_policy_file_is_refused_on_the_file_field(books, manager):
    before = snapshot()
    response = logged_in(manager).post(
        reverse("dunning-policy-list"),
        {"file": SimpleUploadedFile("bad.yaml", b"name: Bad\nlevels:\n  - {name: One, offset_days: soon}\n")},
    )
    assert response.status_code == 200
    assert response.context["import_form"].errors == {
        "file": ["bad.yaml: level 1: offset_days must be a whole number of days."]
    }
    assert snapshot() == before


# Previews ---------------------------------------------------------------------------------------------------


def test_preview_renders_the_real_customers_email_in_a_sandbox(books, viewer):
    reminder, acme = level(books["policy"], 2), books["acme"]
    response = logged_in(viewer).get(
        reverse("dunning-level-preview", args=[reminder.pk]), {"customer": acme.pk}
    )
    html = response.content.decode()
    assert '<p class="email-subject" id="preview-subject">Recoup: reminder, 300.00 USD overdue</p>' in html
    assert 'sandbox referrerpolicy="no-referrer" srcdoc="&lt;!DOCTYPE html&gt;' in html
    assert "&lt;script" not in html
    email = response.context["email"]
    assert email.text.startswith("Dear Pat Payables,\n\nOur records show the invoices below as unpaid")
    assert "A-1" in email.text and "A-2" not in email.text  # A-2 is not due for the reminder yet
    assert response["Content-Security-Policy"].startswith("default-src 'self'; img-src 'self' data:")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response.context["total_due"] == "300.00 USD"
    assert f'href="{reverse("dunning-level-preview-pdf", args=[reminder.pk])}?customer={acme.pk}"' in html


def test_preview_keeps_the_email_inside_its_sandbox(books, manager, viewer):
    reminder, acme = level(books["policy"], 2), books["acme"]
    services.template_save(
        actor=manager,
        level=reminder,
        language="en",
        subject="Hi",
        body="<img src=x onerror=alert(1)> {{ customer_name }}",
    )
    ledger.customer_update(actor=None, customer=acme, name="Acme <script>alert(2)</script>")
    response = logged_in(viewer).get(
        reverse("dunning-level-preview", args=[reminder.pk]), {"customer": acme.pk}
    )
    # A body is text: the customer's name and the template's own markup are both escaped in the email, and
    # the email shows only inside the sandboxed frame (no scripts, no same origin), never in the page itself.
    email = response.context["email"]
    assert "Acme &lt;script&gt;alert(2)&lt;/script&gt;" in email.html and "<script>" not in email.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in email.html and "<img" not in email.html
    html = response.content.decode()
    assert "<img src=x" not in html and "<script>alert" not in html
    assert (
        '<pre class="email-text" id="preview-text">&lt;img src=x onerror=alert(1)&gt; Acme &lt;script&gt;'
        in html
    )
    assert 'sandbox referrerpolicy="no-referrer" srcdoc="' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_preview_in_another_language(books, viewer):
    reminder, acme = level(books["policy"], 2), books["acme"]
    response = logged_in(viewer).get(
        reverse("dunning-level-preview", args=[reminder.pk]), {"customer": acme.pk, "language": "fr"}
    )
    assert response.context["email"].subject == "Recoup : rappel, 300.00 USD échus"
    assert response.context["email"].text.startswith("Bonjour Pat Payables,")
    assert '<option value="fr" selected>fr</option>' in response.content.decode()


def test_preview_without_a_customer_asks_for_one(books, viewer):
    reminder = level(books["policy"], 2)
    response = logged_in(viewer).get(reverse("dunning-level-preview", args=[reminder.pk]))
    assert "Pick a customer to see the email this level would send them today" in response.content.decode()
    assert "email" not in response.context


def test_the_customer_picker_searches_by_name_or_external_id(books, viewer):
    reminder = level(books["policy"], 2)
    client, url = logged_in(viewer), reverse("dunning-level-preview", args=[reminder.pk])
    by_ref = htmx(client, "get", url, {"q": "gam", "language": "fr"}, target="customer-results")
    html = by_ref.content.decode()
    assert html.lstrip().startswith('<ul class="picker" id="customer-matches">') and "<html" not in html
    assert f'href="{url}?customer={books["gamma"].pk}&amp;language=fr">Gamma SA</a>' in html
    by_name = htmx(client, "get", url, {"q": "beta gm"}, target="customer-results")
    assert f'?customer={books["beta"].pk}">Beta GmbH</a>' in by_name.content.decode()
    nobody = htmx(client, "get", url, {"q": "nobody"}, target="customer-results")
    assert "No customer matches “nobody”." in nobody.content.decode()
    without_js = client.get(url, {"q": "acme"})
    assert f'href="{url}?customer={books["acme"].pk}">Acme Corp</a>' in without_js.content.decode()


def test_preview_pdf_is_the_statement(books, viewer):
    reminder, acme = level(books["policy"], 2), books["acme"]
    response = logged_in(viewer).get(
        reverse("dunning-level-preview-pdf", args=[reminder.pk]), {"customer": acme.pk}
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="preview-acme-level-2.pdf"'
    text = pdf_text(response.content)
    assert "A-1" in text and "A-2" in text and "1,300.00 USD" in text
    missing = logged_in(viewer).get(reverse("dunning-level-preview-pdf", args=[reminder.pk]))
    assert missing.status_code == 404


def pdf_text(pdf: bytes) -> str:
    assert pdf[:5] == b"%PDF-"
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode()


# Runs -------------------------------------------------------------------------------------------------------


def test_a_dry_run_shows_the_report_and_the_messages_and_writes_nothing(books, manager):
    before = snapshot()
    response = logged_in(manager).post(reverse("dunning-run-list"), {"as_of": "2026-03-16", "dry_run": "on"})
    assert response.status_code == 200
    found = tables(response)
    assert found["messages-by-level"] == [["Reminder", "1", "0", "0", "1"]]
    assert found["skipped"] == [
        ["The customer is on the do-not-dun list do_not_dun", "1"],
        ["Its next level is not due yet not_due", "1"],
    ]
    assert found["would-send"] == [
        ["Acme Corp ACME", "Email", "Reminder", "2026-03-16 09:00", "A-1 moves, A-2 moves"]
    ]
    html = response.content.decode()
    assert "Dry run: nothing was written and nothing was sent." in html
    assert '<span class="stat-value" id="report-moved">2</span>' in html
    assert snapshot() == before
    assert (InvoiceDunning.objects.count(), DunningStep.objects.count(), len(mail.outbox)) == (0, 0, 0)


def test_a_run_writes_sends_what_is_due_and_shows_its_report(books, manager):
    client = logged_in(manager)
    response = client.post(reverse("dunning-run-list"), {"as_of": "2026-03-16"})
    stored = DunningRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dunning-run-detail", args=[stored.pk])
    message = OutboundMessage.objects.get()
    # The embedded mode sends in-process: the reminder due at 09:00 went out.
    assert (message.status, message.dispatched_at) == (MessageStatus.SENT, None)
    assert [m.subject for m in mail.outbox] == ["Recoup: reminder, 1,300.00 USD overdue"]
    assert stored.actor == manager
    page = client.get(response["Location"])
    found = tables(page)
    assert found["messages-by-level"] == [["Reminder", "1", "0", "0", "1"]]
    assert found["run-messages"] == [
        [f"#{message.pk}", "Acme Corp", "Email", "Reminder", "2026-03-16 09:00", "Sent"]
    ]
    html = page.content.decode()
    assert (
        f"Run {stored.pk} as of 2026-03-16: 1 message(s) queued, 2 invoice(s) moved. Delivered now: 1 sent."
        in html
    )
    runs = tables(client.get(reverse("dunning-run-list")))["runs"]
    assert runs == [
        [
            f"Run {stored.pk}",
            "2026-03-16",
            "Planned",
            "2026-03-16 12:00",
            "2026-03-16 12:00",
            "1",
            "1",
            "2",
            "manager",
        ]
    ]


def test_without_the_embedded_mode_the_workers_are_handed_the_messages(books, manager, settings, monkeypatch):

    # Distributed mode for the view (tasks.embedded() is false), while Celery itself still runs the tasks
    # in-process: the dispatch task really runs, with no broker to start.
    monkeypatch.setattr(tasks, "embedded", lambda: False)
    response = logged_in(manager).post(reverse("dunning-run-list"), {"as_of": "2026-03-16"}, follow=True)
    message = OutboundMessage.objects.get()
    assert message.dispatched_at is not None  # stamped by tasks.dispatch, which the embedded mode skips
    assert message.status == MessageStatus.SENT
    assert (
        "1 message(s) queued, 2 invoice(s) moved. The workers send what is due." in response.content.decode()
    )


def test_a_run_for_an_earlier_date_is_refused_and_writes_nothing(books, manager):
    run()
    before = snapshot()
    response = logged_in(manager).post(reverse("dunning-run-list"), {"as_of": "2026-03-10"})
    assert response.status_code == 200
    assert response.context["run_form"].errors == {
        "as_of": [
            "A run as of 2026-03-10 is refused: the last run was as of 2026-03-16, "
            "and runs never go back in time."
        ]
    }
    assert snapshot() == before
    dry = logged_in(manager).post(reverse("dunning-run-list"), {"as_of": "2026-03-10", "dry_run": "on"})
    assert dry.context["run_form"].errors["as_of"][0].startswith("A run as of 2026-03-10 is refused")


def test_a_second_run_for_the_same_date_sends_nothing_new(books, manager):
    client = logged_in(manager)
    client.post(reverse("dunning-run-list"), {"as_of": "2026-03-16"})
    client.post(reverse("dunning-run-list"), {"as_of": "2026-03-16"})
    second = DunningRun.objects.order_by("-id").first()
    assert second is not None
    found = tables(client.get(reverse("dunning-run-detail", args=[second.pk])))
    assert found["messages-by-level"] == [["No messages."]]
    assert found["run-messages"] == [["This run queued no message."]]
    assert ["Its next level is not due yet not_due", "3"] in found["skipped"]
    assert OutboundMessage.objects.count() == 1 and len(mail.outbox) == 1


# The outbox -------------------------------------------------------------------------------------------------


def test_outbox_counts_filters_and_shows_a_failure_in_red(books, manager, settings):
    failed = failed_message(settings)
    gamma_due = invoice(books["gamma"], "G-2", due=D(2026, 3, 1), amount="40.00")
    assert gamma_due.pk
    with time_machine.travel(dt.datetime(2026, 3, 17, 12, 0, tzinfo=dt.UTC), tick=False):
        services.dunning_run(actor=None, as_of=D(2026, 3, 17))  # a run never plans a later day
    pending = OutboundMessage.objects.exclude(pk=failed.pk).get()
    client = logged_in(manager)
    response = client.get(reverse("dunning-outbox"))
    assert tables(response)["outbox"] == [
        [
            f"#{pending.pk}",
            "Gamma SA",
            "Email",
            "Reminder",
            "2026-03-17",
            "2026-03-17 09:00",
            "Pending",
            "0",
            "—",
            "",
        ],
        [
            f"#{failed.pk}",
            "Acme Corp",
            "Email",
            "Reminder",
            "2026-03-16",
            "2026-03-16 09:00",
            "Failed",
            "1",
            failed.last_error,
            "Retry",
        ],
    ]
    assert failed.last_error.startswith("gave up after 1 attempts: ConnectionRefusedError")
    html = response.content.decode()
    assert f'<tr id="message-{failed.pk}" class="row-failed">' in html
    assert 'class="status-failed has-failed">Failed <span class="count">1</span></a>' in html
    assert f'<a href="{reverse("dunning-outbox")}?status=failed" class="status-failed' in html
    assert 'aria-current="true">All <span class="count">2</span></a>' in html
    only_failed = tables(client.get(reverse("dunning-outbox"), {"status": "failed"}))["outbox"]
    assert [row[0] for row in only_failed] == [f"#{failed.pk}"]
    letters = tables(client.get(reverse("dunning-outbox"), {"channel": "letter"}))["outbox"]
    assert letters == [["No messages."]]
    partial = htmx(client, "get", reverse("dunning-outbox"), {"status": "pending"})
    assert partial.content.decode().lstrip().startswith('<table class="table table-framed" id="outbox">')
    bad = client.get(reverse("dunning-outbox"), {"status": "lost"})
    assert tables(bad)["outbox"] == [["No messages."]]


def test_a_viewer_sees_no_retry_button(books, viewer, settings):
    failed_message(settings)
    row = tables(logged_in(viewer).get(reverse("dunning-outbox")))["outbox"][0]
    assert (row[6], row[-1]) == ("Failed", "")


def test_retry_puts_a_failed_message_back_in_the_queue_and_swaps_its_row(books, manager, settings):
    failed = failed_message(settings)
    response = htmx(
        logged_in(manager),
        "post",
        reverse("dunning-message-retry", args=[failed.pk]),
        {"next": "/dunning/outbox/?status=failed"},
    )
    assert response.status_code == 200
    [row] = tables_of_rows(response)
    assert row[6:9] == ["Pending Queued again", "0", failed.last_error]
    html = response.content.decode()
    assert (
        '<nav class="status-counts" aria-label="Messages by status" id="status-counts" hx-swap-oob="true">'
        in html
    )
    assert 'class="status-pending">Pending <span class="count">1</span></a>' in html
    assert (
        'aria-current="true" class="status-failed">Failed <span class="count">0</span></a>' in html
    )  # still shown
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (MessageStatus.PENDING, 0)
    assert Event.objects.filter(verb="dunning_message.retried", target_id=str(failed.pk)).count() == 1
    # Retried again while pending: refused, said on the row, nothing recorded.
    again = htmx(logged_in(manager), "post", reverse("dunning-message-retry", args=[failed.pk]))
    assert "Only a failed message can be retried." in again.content.decode()
    assert Event.objects.filter(verb="dunning_message.retried").count() == 1


def test_retry_without_htmx_goes_back(books, manager, settings):
    failed = failed_message(settings)
    response = logged_in(manager).post(
        reverse("dunning-message-retry", args=[failed.pk]), {"next": "/dunning/outbox/?status=failed"}
    )
    assert response["Location"] == "/dunning/outbox/?status=failed"
    offsite = logged_in(manager).post(
        reverse("dunning-message-retry", args=[failed.pk]), {"next": "https://evil.example/"}
    )
    assert offsite["Location"] == reverse("dunning-message-detail", args=[failed.pk])


def test_message_page_shows_what_went_out(books, viewer):
    run()
    assert delivery.deliver_due().counts == {"sent": 1}
    message = OutboundMessage.objects.get()
    response = logged_in(viewer).get(reverse("dunning-message-detail", args=[message.pk]))
    html = response.content.decode()
    assert '<p class="email-subject" id="message-subject">Recoup: reminder, 1,300.00 USD overdue</p>' in html
    assert '<iframe class="email-frame" id="message-html" title="The email as sent" sandbox' in html
    assert '<span class="mono">ap@acme.example</span>' in html
    assert tables(response)["message-items"] == [
        ["A-1", "Reminder New", "14", "300.00 USD", "—"],
        ["A-2", "Friendly notice New", "—", "1,000.00 USD", "—"],
    ]
    assert message.message_id and escape(message.message_id) in html
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert "message-document" not in html
    assert logged_in(viewer).get(reverse("dunning-message-document", args=[message.pk])).status_code == 404


def test_a_letter_is_downloaded_through_a_role_checked_view(books, viewer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    letters, _ = services.policy_save(
        actor=None,
        spec=policies.parse_policy(
            {"name": "Letters", "levels": [{"name": "Letter", "offset_days": 1, "channels": ["letter"]}]}
        ),
    )
    ledger.customer_update(actor=None, customer=books["acme"], dunning_policy=letters)
    run()
    assert delivery.deliver_due().counts == {"sent": 1}
    message = OutboundMessage.objects.get(channel="letter")
    url = reverse("dunning-message-document", args=[message.pk])
    assert url in logged_in(viewer).get(reverse("dunning-message-detail", args=[message.pk])).content.decode()
    assert Client().get(url).status_code == 302
    response = logged_in(viewer).get(url)
    assert response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"] == f'attachment; filename="{message.document.name.rsplit("/", 1)[1]}"'
    )
    assert "A-1" in pdf_text(b"".join(response.streaming_content))
    assert (
        "/media/"
        not in logged_in(viewer).get(reverse("dunning-message-detail", args=[message.pk])).content.decode()
    )


# The invoice's dunning panel --------------------------------------------------------------------------------


def panel(client, invoice_obj):
    return htmx(client, "get", reverse("dunning-invoice-panel", args=[invoice_obj.pk]))


def explanation(response) -> str:
    html = response.content.decode()
    start = html.index('id="dunning-explanation">') + len('id="dunning-explanation">')
    return html[start : html.index("</p>", start)].replace("&#x27;", "'")


def test_the_invoice_page_loads_its_dunning_panel(books, viewer):
    a1 = books["a1"]
    html = logged_in(viewer).get(reverse("invoice-detail", args=[a1.pk])).content.decode()
    url = reverse("dunning-invoice-panel", args=[a1.pk])
    assert f'<div id="dunning-panel" hx-get="{url}" hx-trigger="load" hx-swap="outerHTML">' in html
    assert f'<noscript><a href="{url}">Open its dunning status</a></noscript>' in html
    partial = panel(logged_in(viewer), a1).content.decode()
    assert partial.lstrip().startswith('<section class="panel panel-dunning" id="dunning-panel"')
    page = logged_in(viewer).get(url).content.decode()  # without JavaScript: a page of its own
    assert "<html" in page and 'id="dunning-explanation"' in page


def test_why_an_invoice_is_or_is_not_dunned(books, viewer, manager):
    client = logged_in(viewer)
    a1, a2, acme = books["a1"], books["a2"], books["acme"]
    assert (
        explanation(panel(client, a1))
        == "It is due for Reminder as of 2026-03-16; the next run for that date sends it."
    )
    run()
    after = panel(client, a1)
    assert (
        explanation(after)
        == "Not dunned as of 2026-03-16: its next level is not due yet (at Reminder since 2026-03-16)."
    )
    found = tables(after)
    stored = DunningRun.objects.get()
    assert found["dunning-steps"] == [["2026-03-16", "—", "Reminder", "300.00 USD", f"Run {stored.pk}"]]
    message = OutboundMessage.objects.get()
    assert found["dunning-messages"] == [[f"#{message.pk}", "2026-03-16", "Email", "Reminder", "Pending"]]
    assert found["dunning-holds"] == [["No hold."]]
    html = after.content.decode()
    policy_url = reverse("dunning-policy-detail", args=[books["policy"].pk])
    assert f'<a href="{policy_url}">Standard</a> <span class="muted">(the default policy)</span>' in html
    assert 'Reminder <span class="muted">since 2026-03-16</span>' in html
    disputes.dispute_open(actor=manager, invoice=a2, reason="pricing")
    # (The selector writes the amount unformatted, "1000.0000 USD": reported, not asserted.)
    assert explanation(panel(client, a2)).startswith(
        "Not dunned as of 2026-03-16: all of its open amount is disputed ("
    )
    beta_invoice = Invoice.objects.get(external_id="B-1")
    assert explanation(panel(client, beta_invoice)) == (
        "Not dunned as of 2026-03-16: the customer is on the do-not-dun list."
    )
    ledger.payment_create(
        actor=None,
        customer=acme,
        external_id="P-1",
        date=TODAY,
        amount=Decimal("300.00"),
        apply_to=[ledger.Application(a1)],
    )
    paid = panel(client, a1)
    assert (
        explanation(paid)
        == "It is settled on 2026-03-16: nothing is left to collect, so no reminder goes out."
    )
    assert 'id="invoice-hold-form"' not in paid.content.decode()  # nothing to hold


def test_the_policy_source_is_named(books, viewer):
    gentle, _ = services.policy_save(
        actor=None,
        spec=policies.parse_policy({"name": "Gentle", "levels": [{"name": "Nudge", "offset_days": 5}]}),
    )
    own = invoice(books["gamma"], "G-7", due=D(2026, 3, 1), dunning_policy=gentle)
    assert "(set on this invoice)" in panel(logged_in(viewer), own).content.decode()
    ledger.customer_update(actor=None, customer=books["acme"], dunning_policy=gentle)
    assert "(the customer&#x27;s policy)" in panel(logged_in(viewer), books["a1"]).content.decode()


def test_a_collector_holds_an_invoice_and_releases_it(books, collector):
    a1 = books["a1"]
    client = logged_in(collector)
    response = htmx(
        client,
        "post",
        reverse("dunning-invoice-hold", args=[a1.pk]),
        {"reason": "Awaiting the PO", "until": "2026-03-31"},
    )
    assert response.status_code == 200
    assert explanation(response) == "Not dunned as of 2026-03-16: dunning is on hold."
    assert tables(response)["dunning-holds"] == [
        ["This invoice", "Awaiting the PO", "2026-03-31", "2026-03-16", "collector", "Release"]
    ]
    hold = DunningHold.objects.get()
    assert (hold.invoice, hold.customer, hold.created_by) == (a1, books["acme"], collector)
    assert services.dunning_run(actor=None, as_of=TODAY, dry_run=True).report["skipped"]["on_hold"] == 1
    released = htmx(client, "post", reverse("dunning-hold-release", args=[hold.pk]), {"invoice": a1.pk})
    assert (
        explanation(released)
        == "It is due for Reminder as of 2026-03-16; the next run for that date sends it."
    )
    hold.refresh_from_db()
    assert hold.released_at is not None
    twice = htmx(client, "post", reverse("dunning-hold-release", args=[hold.pk]), {"invoice": a1.pk})
    assert '<p class="form-errors" role="alert">The hold is already released.</p>' in twice.content.decode()
    assert Event.objects.filter(verb="dunning_hold.released").count() == 1


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"reason": ""}, {"reason": ["This field is required."]}),
        (
            {"reason": "Late", "until": "2026-03-15"},
            {"until": ["A hold cannot end in the past (2026-03-15)."]},
        ),
        ({"reason": "   "}, {"reason": ["This field is required."]}),
    ],
)
def test_a_hold_without_a_reason_or_already_over_is_refused(books, collector, data, errors):
    response = htmx(
        logged_in(collector), "post", reverse("dunning-invoice-hold", args=[books["a1"].pk]), data
    )
    assert response.status_code == 200
    assert response.context["hold_form"].errors == errors
    assert DunningHold.objects.count() == 0 and Event.objects.filter(verb="dunning_hold.created").count() == 0


def test_a_hold_without_htmx_goes_back_to_the_invoice(books, collector):
    a1 = books["a1"]
    response = logged_in(collector).post(reverse("dunning-invoice-hold", args=[a1.pk]), {"reason": "PO"})
    assert response["Location"] == reverse("invoice-detail", args=[a1.pk])
    hold = DunningHold.objects.get()
    back = logged_in(collector).post(reverse("dunning-hold-release", args=[hold.pk]), {"invoice": a1.pk})
    assert back["Location"] == reverse("invoice-detail", args=[a1.pk])


# The customer's panels --------------------------------------------------------------------------------------


def test_the_customer_page_loads_its_panels(books, viewer):
    acme = books["acme"]
    html = logged_in(viewer).get(reverse("customer-detail", args=[acme.pk])).content.decode()
    for name, element in (
        ("dunning-customer-panel", "customer-dunning"),
        ("activity-timeline", "customer-activity"),
    ):
        url = reverse(name, args=[acme.pk])
        assert f'<div id="{element}" hx-get="{url}" hx-trigger="load" hx-swap="outerHTML">' in html


def test_customer_holds_are_added_and_released(books, collector, viewer):
    acme = books["acme"]
    services.hold_create(actor=None, customer=acme, invoice=books["a2"], reason="Credit note coming")
    client = logged_in(collector)
    response = htmx(
        client, "post", reverse("dunning-customer-hold", args=[acme.pk]), {"reason": "Chapter 11 filing"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel" id="customer-dunning"')
    policy_url = reverse("dunning-policy-detail", args=[books["policy"].pk])
    policy_link = f'<a href="{policy_url}">Standard</a> <span class="muted">(the default policy)</span>'
    assert f'id="customer-policy">{policy_link}' in html
    holds = list(DunningHold.objects.order_by("id"))
    assert [(h.reason, h.invoice_id) for h in holds] == [
        ("Credit note coming", books["a2"].pk),
        ("Chapter 11 filing", None),
    ]
    assert html.index("Chapter 11 filing") < html.index("Credit note coming")  # the whole customer first
    assert f'<a class="mono" href="{reverse("invoice-detail", args=[books["a2"].pk])}">A-2</a>' in html
    assert services.dunning_run(actor=None, as_of=TODAY, dry_run=True).report["skipped"]["on_hold"] == 2
    released = htmx(client, "post", reverse("dunning-hold-release", args=[holds[1].pk]))
    assert "Chapter 11 filing" not in released.content.decode()
    assert "Credit note coming" in released.content.decode()
    read_only = htmx(
        logged_in(viewer), "get", reverse("dunning-customer-panel", args=[acme.pk])
    ).content.decode()
    assert 'id="customer-hold-form"' not in read_only and "/release/" not in read_only


def test_timeline_and_open_tasks(books, viewer):
    acme = books["acme"]
    run()
    assert delivery.deliver_due().counts == {"sent": 1}
    message = OutboundMessage.objects.get()
    activity.task_create(
        actor=None,
        customer=acme,
        kind="call",
        title="Call Pat about A-1",
        due_date=D(2026, 3, 13),
        role="collector",
        invoices=[books["a1"]],
    )
    install_reasons()
    dispute = disputes.dispute_open(actor=None, invoice=books["a1"], reason="pricing", amount="10.00")
    response = htmx(logged_in(viewer), "get", reverse("activity-timeline", args=[acme.pk]))
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="columns" id="customer-activity">')
    message_url = reverse("dunning-message-detail", args=[message.pk])
    assert f'<a href="{message_url}">Email: Recoup: reminder, 1,300.00 USD overdue</a>' in html
    dispute_url = reverse("dispute-detail", args=[dispute.pk])
    assert f'<a href="{dispute_url}">Dispute opened on A-1: 10.00 USD (Pricing)</a>' in html
    assert tables(response)["tasks"] == [["2026-03-13", "Call Pat about A-1 Call · A-1", "Collector"]]
    entries = [e.title for e in TimelineEntry.objects.filter(customer=acme).order_by("-occurred_at", "-id")]
    assert entries == [
        "Dispute opened on A-1: 10.00 USD (Pricing)",
        "Task: Call Pat about A-1",
        "Email: Recoup: reminder, 1,300.00 USD overdue",
    ]
    assert html.index("Task: Call Pat about A-1") < html.index("Email: Recoup")
    assert Task.objects.count() == 1


# Query counts -----------------------------------------------------------------------------------------------


def queries(client: Client, url: str, *, partial: bool = False) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers={"HX-Request": "true"} if partial else {})
    assert response.status_code == 200
    return len(captured.captured_queries)


def many(n: int) -> None:
    """n more customers, each with an overdue invoice, dunned and sent as of TODAY."""
    for i in range(n):
        made = customer(f"M{i:03d}", f"Many {i:03d}", email=f"ap{i}@many.example")
        invoice(made, f"M-{i:03d}", due=D(2026, 3, 1))


def test_list_pages_do_not_grow_their_queries_with_rows(books, manager):
    client = logged_in(manager)
    run()
    small = {
        name: queries(client, url)
        for name, url in {
            "policies": reverse("dunning-policy-list"),
            "policy": reverse("dunning-policy-detail", args=[books["policy"].pk]),
            "runs": reverse("dunning-run-list"),
            "outbox": reverse("dunning-outbox"),
            "run": reverse("dunning-run-detail", args=[DunningRun.objects.get().pk]),
        }.items()
    }
    many(55)
    with time_machine.travel(dt.datetime(2026, 3, 17, 12, 0, tzinfo=dt.UTC), tick=False):
        services.dunning_run(actor=None, as_of=D(2026, 3, 17))  # a run never plans a later day
    big_run = DunningRun.objects.order_by("-id").first()
    assert big_run is not None and OutboundMessage.objects.count() == 56
    big = {
        "policies": queries(client, reverse("dunning-policy-list")),
        "policy": queries(client, reverse("dunning-policy-detail", args=[books["policy"].pk])),
        "runs": queries(client, reverse("dunning-run-list")),
        "outbox": queries(client, reverse("dunning-outbox")),
        "run": queries(client, reverse("dunning-run-detail", args=[big_run.pk])),
    }
    assert big == small
    page2 = client.get(reverse("dunning-outbox"), {"page": "2"})
    assert len(tables(page2)["outbox"]) == 6 and "51–56 of 56" in page2.content.decode()
    assert len(tables(client.get(reverse("dunning-run-detail", args=[big_run.pk])))["run-messages"]) == 50
    # session + user + the page's own: policies 1; a policy 3 (+ levels, templates); runs 2 (+ count);
    # the outbox 3 (+ counts, + page count); a run 3 (+ its messages, their count)
    assert big == {"policies": 3, "policy": 5, "runs": 4, "outbox": 5, "run": 5}


def test_panels_do_not_grow_their_queries_with_history(books, manager):
    client = logged_in(manager)
    acme, a1 = books["acme"], books["a1"]
    urls = {
        "invoice": reverse("dunning-invoice-panel", args=[a1.pk]),
        "customer": reverse("dunning-customer-panel", args=[acme.pk]),
        "activity": reverse("activity-timeline", args=[acme.pk]),
        "message": None,
    }
    run()
    delivery.deliver_due()
    services.hold_create(actor=manager, customer=acme, reason="one")
    activity.task_create(
        actor=manager, customer=acme, kind="call", title="Call", due_date=TODAY, invoices=[a1]
    )
    urls["message"] = reverse("dunning-message-detail", args=[OutboundMessage.objects.get().pk])
    small = {name: queries(client, url, partial=True) for name, url in urls.items()}
    for day in range(17, 31):  # two weeks of holds, tasks and timeline entries
        services.hold_create(actor=manager, customer=acme, invoice=a1, reason=f"hold {day}")
        activity.task_create(
            actor=manager,
            customer=acme,
            kind="call",
            title=f"Call {day}",
            due_date=D(2026, 3, day),
            invoices=[a1, books["a2"]],
        )
    big = {name: queries(client, url, partial=True) for name, url in urls.items()}
    assert big == small
