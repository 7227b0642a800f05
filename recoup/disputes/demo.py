"""Disputes for the demo ledger: two resolver teams, and disputes at every stage of their life (open, in
review, resolved with each outcome, past their SLA), with comments and a document, through the services."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from recoup.disputes import services
from recoup.disputes.defaults import install_reasons
from recoup.disputes.models import Dispute, DisputeReason, Outcome
from recoup.ledger.models import Invoice
from recoup.users.models import Role, Team, User

# Which team answers which reason by default.
TEAMS = {
    "Billing": ("pricing", "duplicate_billing", "tax", "other"),
    "Logistics": ("quantity", "damaged_goods", "not_received"),
}
COMMENTS = (
    "Customer's AP says the PO price was lower; asked them for the PO copy.",
    "Checked the delivery note: two pallets signed for, not three.",
    "Sales confirms the discount was agreed on the call in March.",
    "Waiting on the carrier's proof of delivery.",
)
# (how many days ago it opened, stage); a stage is an outcome, "review" or "open".
STORY = (
    (52, Outcome.CREDIT_NOTE),
    (45, Outcome.REJECTED),
    (38, Outcome.CUSTOMER_PAID),
    (33, Outcome.WRITTEN_OFF),
    (30, "review"),
    (21, "open"),
    (16, "review"),
    (9, "open"),
    (5, "open"),
    (2, "open"),
)


def demo_disputes(*, today: dt.date, seed: int = 1) -> Counter[str]:
    """Seed the teams and the disputes; once the ledger has a dispute, it does nothing."""
    counts: Counter[str] = Counter()
    if Dispute.objects.exists():
        return counts
    rng = random.Random(seed)
    install_reasons()
    manager = User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id").first()
    resolvers = list(User.objects.filter(role=Role.RESOLVER, is_active=True).order_by("id"))
    teams = _teams(manager, resolvers)
    candidates = list(
        Invoice.objects.filter(open_amount__gt=0, due_date__lt=today - dt.timedelta(days=60))
        .select_related("customer")
        .order_by("id")
    )
    rng.shuffle(candidates)
    reasons = list(DisputeReason.objects.filter(is_active=True))
    for (days_ago, stage), invoice in zip(STORY, candidates, strict=False):
        opened_on = today - dt.timedelta(days=days_ago)
        reason = rng.choice(reasons)
        amount = invoice.open_amount
        if rng.random() < 0.5:
            amount = (invoice.open_amount / 2).quantize(Decimal("0.01"))
        team = reason.default_team or teams["Billing"]
        owner = next((u for u in resolvers if u.team_id == team.pk), None)
        dispute = services.dispute_open(
            actor=manager,
            invoice=invoice,
            reason=reason,
            amount=amount,
            note="Raised by the customer's AP team by email.",
            opened_on=opened_on,
            owner=owner,
            team=team,
        )
        counts["disputes"] += 1
        actor = owner or manager
        if rng.random() < 0.7:
            services.dispute_comment(actor=actor, dispute=dispute, body=rng.choice(COMMENTS))
            counts["comments"] += 1
        if stage == "open":
            continue
        services.dispute_review(actor=actor, dispute=dispute)
        if stage == "review":
            if counts["documents"] == 0:
                note = b"Delivery note 4471: 2 pallets received, signed J. Ortiz.\n"
                upload = SimpleUploadedFile("delivery-note.txt", note)
                services.dispute_attach(actor=actor, dispute=dispute, upload=upload)
                counts["documents"] += 1
            continue
        resolved_on = min(today, opened_on + dt.timedelta(days=rng.randint(3, 14)))
        services.dispute_resolve(
            actor=manager,  # a write-off needs a manager; the others could be the resolver's
            dispute=dispute,
            outcome=stage,
            note="Settled with the customer.",
            resolved_on=resolved_on,
        )
        counts["resolved"] += 1
    counts["past SLA"] = services.disputes_check_sla(as_of=today)
    return counts


def _teams(manager: User | None, resolvers: list[User]) -> dict[str, Team]:
    teams = {}
    for n, (name, codes) in enumerate(TEAMS.items()):
        team, _ = Team.objects.get_or_create(name=name, defaults={"manager": manager})
        teams[name] = team
        DisputeReason.objects.filter(code__in=codes, default_team__isnull=True).update(default_team=team)
        if n < len(resolvers) and resolvers[n].team_id is None:
            resolvers[n].team = team
            resolvers[n].save(update_fields=["team"])
    return teams
