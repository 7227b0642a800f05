"""Who may do what with disputes: every role reads; managers and admins change reasons and write off;
collectors open, comment and attach; resolvers comment, attach, assign, review and resolve, on their own and
their team's disputes only (any other is a 404 to them); viewers write nothing; nobody anonymous."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from recoup.api.tests.test_disputes import (
    DISPUTES,
    METRICS,
    REASONS,
    make_invoice,
    member,
    open_dispute,
    snapshot,
    upload,
)
from recoup.disputes.defaults import install_reasons
from recoup.disputes.models import Dispute, DisputeReason, DisputeStatus
from recoup.users.models import READ_ROLES, Role, Team, User

pytestmark = pytest.mark.django_db
ROLES = [*Role.values, "anonymous"]
MANAGERS = frozenset({Role.ADMIN, Role.MANAGER})
OPENERS = frozenset({Role.ADMIN, Role.MANAGER, Role.COLLECTOR})
WORKERS = frozenset({Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER})
RESOLVERS = frozenset({Role.ADMIN, Role.MANAGER, Role.RESOLVER})
ROLE_REFUSED = {"detail": "Your role does not allow this."}
WRITE_OFF_REFUSED = {"detail": "Writing a dispute off needs a manager."}


@pytest.fixture(autouse=True)
def today(clock, settings, tmp_path):
    install_reasons()
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def w(make_user) -> dict[str, Any]:
    """Billing's dispute (ours), Logistics' (theirs), and a resolver in Billing to assign to."""
    billing, logistics = Team.objects.create(name="Billing"), Team.objects.create(name="Logistics")
    return {
        "billing": billing,
        "logistics": logistics,
        "ours": open_dispute(
            make_invoice("INV-1"), amount="30.00", team=billing, opened_on=dt.date(2026, 5, 25)
        ),
        "theirs": open_dispute(make_invoice("INV-2", "BETA"), amount="30.00", team=logistics),
        "mate": member(make_user, Role.RESOLVER, "mate", billing),
        "pricing": DisputeReason.objects.get(code="pricing"),
    }


Payload = dict[str, Any] | Callable[[], dict[str, Any]] | None


def requests(w: dict[str, Any]) -> list[tuple[str, str, Payload, frozenset[str], int]]:
    """(method, url, payload, the roles allowed, the status they get) for every dispute endpoint."""
    ours = f"{DISPUTES}{w['ours'].pk}/"
    reason = f"{REASONS}{w['pricing'].pk}/"
    reads = [REASONS, reason, DISPUTES, ours, METRICS, f"{METRICS}/"]
    return [
        *[("get", target, None, READ_ROLES, 200) for target in reads],
        ("post", REASONS, {"code": "late", "name": "Late", "sla_days": 3}, MANAGERS, 201),
        ("patch", reason, {"sla_days": 12}, MANAGERS, 200),
        ("put", reason, {"code": "pricing", "name": "Price", "sla_days": 9}, MANAGERS, 200),
        ("delete", reason, None, MANAGERS, 405),
        ("post", DISPUTES, {"invoice": "INV-1", "reason": "pricing", "amount": "10.00"}, OPENERS, 201),
        ("post", f"{ours}assign/", {"owner": w["mate"].pk}, RESOLVERS, 200),
        ("post", f"{ours}review/", {"note": "Looking"}, RESOLVERS, 200),
        ("post", f"{ours}comment/", {"body": "Called them"}, WORKERS, 201),
        ("post", f"{ours}attach/", lambda: {"file": upload()}, WORKERS, 201),
        ("post", f"{ours}resolve/", {"outcome": "rejected"}, RESOLVERS, 200),
        ("post", f"{ours}resolve/", {"outcome": "credit_note"}, RESOLVERS, 200),
        ("post", f"{ours}resolve/", {"outcome": "customer_paid"}, RESOLVERS, 200),
        ("post", f"{ours}resolve/", {"outcome": "written_off"}, MANAGERS, 200),
        # Nothing serves these: 405 to a role that may write, 403 to a viewer.
        ("put", ours, {"note": "x"}, WORKERS, 405),
        ("patch", ours, {"note": "x"}, WORKERS, 405),
        ("delete", ours, None, WORKERS, 405),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_exactly_what_its_role_allows_everywhere(client_for, make_user, w, role):
    client = (
        APIClient()
        if role == "anonymous"
        else client_for(member(make_user, role, f"the-{role}", w["billing"]))
    )
    seen = []
    for method, target, payload, allowed, success in requests(w):
        body = payload() if callable(payload) else payload
        # Each request rolls back, so that every one meets the same state.
        with transaction.atomic():
            before = snapshot()
            response = getattr(client, method)(
                target, body, format="multipart" if callable(payload) else "json"
            )
            changed = snapshot() != before
            transaction.set_rollback(True)
        expected = 401 if role == "anonymous" else success if role in allowed else 403
        seen.append((method, target, response.status_code))
        assert response.status_code == expected, (method, target, body, response.content[:300])
        if expected == 403:
            refusal = (
                WRITE_OFF_REFUSED
                if role == Role.RESOLVER and body == {"outcome": "written_off"}
                else ROLE_REFUSED
            )
            assert response.json() == refusal, (method, target)
        # What the request did: reads, refusals and 405s change nothing, every other write something.
        assert changed == (expected in (200, 201) and method != "get"), (method, target)
    assert len(seen) == len(requests(w)) == 22


@pytest.fixture
def rita(make_user, w) -> User:
    """A resolver in Billing."""
    return member(make_user, Role.RESOLVER, "rita", w["billing"])


def test_a_resolver_sees_their_own_and_their_team_s_disputes_only(client_for, w, rita):
    mine = open_dispute(make_invoice("INV-3", "GAMMA"), owner=rita, team=w["logistics"])
    client = client_for(rita)

    listed = client.get(DISPUTES).json()

    assert listed["count"] == 2
    assert [row["id"] for row in listed["results"]] == [w["ours"].pk, mine.pk]
    assert client.get(f"{DISPUTES}{w['ours'].pk}/").status_code == 200
    assert client.get(f"{DISPUTES}{mine.pk}/").status_code == 200
    missing = client.get(f"{DISPUTES}{w['theirs'].pk}/")
    assert (missing.status_code, missing.json()) == (404, {"detail": "No Dispute matches the given query."})
    assert client.get(DISPUTES, {"invoice": "INV-2"}).json()["count"] == 0
    assert client.get(DISPUTES, {"team": w["logistics"].pk}).json()["count"] == 1  # hers, in Logistics
    assert client_for(Role.VIEWER).get(DISPUTES).json()["count"] == 3


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("assign", {"owner": "rita"}),
        ("review", {}),
        ("comment", {"body": "Mine now"}),
        ("attach", None),
        ("resolve", {"outcome": "rejected"}),
        ("resolve", {"outcome": "written_off"}),
    ],
)
def test_a_resolver_acting_on_another_team_s_dispute_gets_a_404_and_nothing_is_written(
    client_for, w, rita, action, body
):
    client = client_for(rita)
    before = snapshot()
    target = f"{DISPUTES}{w['theirs'].pk}/{action}/"

    if body is None:
        response = client.post(target, {"file": upload()}, format="multipart")
    else:
        response = client.post(
            target, {k: rita.pk if v == "rita" else v for k, v in body.items()}, format="json"
        )

    assert response.status_code == 404
    assert snapshot() == before


def test_a_resolver_cannot_write_off_even_with_a_bad_body(client_for, w, rita):
    client = client_for(rita)
    before = snapshot()
    for body in ({"outcome": "written_off"}, {"outcome": "written_off", "amount": "abc"}):
        response = client.post(f"{DISPUTES}{w['ours'].pk}/resolve/", body, format="json")
        assert (response.status_code, response.json()) == (403, WRITE_OFF_REFUSED)
    assert snapshot() == before
    assert Dispute.objects.get(pk=w["ours"].pk).status == DisputeStatus.OPEN


def test_a_resolver_who_gives_a_dispute_away_gets_the_answer_then_loses_sight_of_it(client_for, w, rita):
    client = client_for(rita)
    url = f"{DISPUTES}{w['ours'].pk}/"

    response = client.post(f"{url}assign/", {"team": w["logistics"].pk}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["team"], response.json()["owner"]) == ("Logistics", None)
    assert client.get(url).status_code == 404
    assert client.post(f"{url}comment/", {"body": "Wait"}, format="json").status_code == 404


def test_a_resolver_without_a_team_sees_only_what_they_own(client_for, make_user, w):
    loner = member(make_user, Role.RESOLVER, "loner", None)
    owned = open_dispute(make_invoice("INV-9", "OMEGA"), owner=loner)
    client = client_for(loner)

    assert [row["id"] for row in client.get(DISPUTES).json()["results"]] == [owned.pk]
    assert client.get(DISPUTES, {"scope": "team"}).json()["count"] == 0
    assert client.get(DISPUTES, {"scope": "mine"}).json()["count"] == 1


def test_a_resolver_s_figures_cover_the_disputes_they_see(client_for, w, rita):
    everyone = client_for(Role.MANAGER).get(METRICS).json()
    hers = client_for(rita).get(METRICS).json()

    assert (everyone["open"], hers["open"]) == (2, 1)
    assert (everyone["open_by_reason"], hers["open_by_reason"]) == ({"Pricing": 2}, {"Pricing": 1})
    assert (everyone["overdue_disputed"], hers["overdue_disputed"]) == ("60.00", "30.00")
    assert everyone["overdue_ar"] == hers["overdue_ar"] == "200.00"  # the aging report's, unscoped
