"""Celery tasks of insights: thin, safe to run twice. In the embedded mode they run in-process."""

from __future__ import annotations

from celery import shared_task

from recoup.core.errors import DomainError
from recoup.insights import selectors, services


@shared_task(name="recoup.insights.tasks.nightly")
def nightly() -> dict[str, object]:
    """Beat's nightly run: train a new version on everything known today, then score every open invoice and
    customer with it. While there is too little history the training is refused and the baseline scores."""
    out: dict[str, object] = {}
    facts = selectors.load_facts()  # read once, for both
    try:
        model = services.model_train(actor=None, facts=facts)
        out["model_version"] = model.version
    except DomainError as refused:
        out["training_refused"] = refused.message
    try:
        out["scored"] = services.scores_refresh(actor=None, facts=facts).as_dict()
    except DomainError as refused:
        out["scoring_refused"] = refused.message
    return out


@shared_task(name="recoup.insights.tasks.score_all")
def score_all() -> dict[str, object]:
    try:
        return services.scores_refresh(actor=None).as_dict()
    except DomainError as refused:
        return {"refused": refused.message}


@shared_task(name="recoup.insights.tasks.rescore_customers")
def rescore_customers(customer_ids: list[int]) -> dict[str, object]:
    """Rescore the customers a payment or a dispute event touched (hooks.rescore_on_commit)."""
    try:
        invoices = services.customers_rescore(actor=None, customer_ids=customer_ids)
    except DomainError as refused:
        return {"refused": refused.message}
    return {"customers": len(customer_ids), "invoices": invoices}
