"""The demo's insights: a model, the predictions and priority terms of today, and the forecasts that the
nightly scoring would have kept over the last weeks, so that the dashboard can set collections against
them from the first look.

The past forecasts come from a model trained as of the first of those days, scored on each Sunday with the
facts known then; today's from a model trained on everything. Nothing the past forecasts use is dated after
the day they were made."""

from __future__ import annotations

import datetime as dt

from recoup.core.errors import DomainError
from recoup.insights import selectors, services
from recoup.insights.models import ForecastRecord

PAST_WEEKS = 8


def demo_insights(*, today: dt.date, weeks: int = PAST_WEEKS) -> dict[str, int]:
    """Train, keep a forecast for each of the last `weeks` Sundays, then train and score as of today. With
    too little history (a tiny demo) the baseline scores today and nothing is trained."""
    facts = selectors.load_facts()  # the ledger read once for the past steps
    sundays = [today - dt.timedelta(days=today.weekday() + 1 + 7 * k) for k in reversed(range(weeks))]
    trained = 0
    try:
        services.model_train(actor=None, through=sundays[0], facts=facts)
        trained += 1
        for day in sundays:
            services.scores_refresh(actor=None, as_of=day, facts=facts)
        facts = selectors.load_facts()  # then afresh, as the nightly run reads it: train, then score
        services.model_train(actor=None, through=today, facts=facts)
        trained += 1
    except DomainError as exc:
        if exc.code != "not_enough_history":
            raise
    summary = services.scores_refresh(actor=None, as_of=today, facts=facts)
    return {
        "models trained": trained,
        "forecasts kept": ForecastRecord.objects.values("made_on").distinct().count(),
        "invoices scored": summary.invoices,
        "customers ranked": summary.customers,
    }
