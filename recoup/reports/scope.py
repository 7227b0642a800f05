"""Which customers a report covers: the dashboard's filter bar (collector, team, currency, segment)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from recoup.ledger.models import Customer


@dataclass(frozen=True)
class Scope:
    """A filter on customers; the empty scope is every customer. `currency` is the customer's currency."""

    collector_id: int | None = None
    team_id: int | None = None
    currency: str = ""
    segment: str = ""

    @property
    def is_everything(self) -> bool:
        return self == Scope()

    def q(self, prefix: str = "") -> Q:
        """The filter on Customer, or on a model that reaches it through `prefix` ("customer__")."""
        conditions = Q()
        if self.collector_id is not None:
            conditions &= Q(**{f"{prefix}collector_id": self.collector_id})
        if self.team_id is not None:
            conditions &= Q(**{f"{prefix}collector__team_id": self.team_id})
        if self.currency:
            conditions &= Q(**{f"{prefix}currency": self.currency})
        if self.segment:
            conditions &= Q(**{f"{prefix}segment": self.segment})
        return conditions

    def customers(self) -> QuerySet[Customer]:
        return Customer.objects.filter(self.q())

    def customer_ids(self) -> list[int] | None:
        """The ids in scope for aging_report(customer_ids=…); None for every customer (no filter at all)."""
        if self.is_everything:
            return None
        return list(self.customers().values_list("id", flat=True))

    def as_query(self) -> dict[str, str]:
        """The scope as the filter bar's query parameters."""
        pairs = {
            "collector": self.collector_id,
            "team": self.team_id,
            "currency": self.currency,
            "segment": self.segment,
        }
        return {key: str(value) for key, value in pairs.items() if value not in (None, "")}
