"""Set-based checks every kind shares, run on the staging table: each returns the bad rows by line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from recoup.core.money import minor_units
from recoup.ledger.imports.rows import RowError
from recoup.ledger.imports.staging import STAGING, Db
from recoup.ledger.models import Customer

CUSTOMER = Customer._meta.db_table
# The dunning policies' table, read through the foreign key: the ledger's imports need not import the app.
_POLICY_MODEL = Customer._meta.get_field("dunning_policy").related_model
assert isinstance(_POLICY_MODEL, type)
POLICY = _POLICY_MODEL._meta.db_table


def duplicate_ids(db: Db, labels: Mapping[str, str]) -> list[RowError]:
    rows = db.fetch(
        f"SELECT s.line, s.external_id, d.first_line FROM {STAGING} s"
        f" JOIN (SELECT external_id, MIN(line) AS first_line FROM {STAGING}"
        f"       GROUP BY external_id HAVING COUNT(*) > 1) d ON d.external_id = s.external_id"
        f" WHERE s.line > d.first_line"
    )
    return [
        RowError(
            line, labels["external_id"], f'duplicate external id "{external_id}" (first on line {first})'
        )
        for line, external_id, first in rows
    ]


def unknown_customers(db: Db, labels: Mapping[str, str]) -> list[RowError]:
    rows = db.fetch(
        f"SELECT s.line, s.customer FROM {STAGING} s"
        f" WHERE NOT EXISTS (SELECT 1 FROM {CUSTOMER} c WHERE c.external_id = s.customer)"
    )
    return [RowError(line, labels["customer"], f'unknown customer "{customer}"') for line, customer in rows]


def unknown_dunning_policies(db: Db, labels: Mapping[str, str]) -> list[RowError]:
    """A policy is named exactly: same case, surrounding spaces trimmed (as every cell is when read). A name
    that differs only in case gets a hint, looked up for the bad rows only in the small policies table."""
    rows = db.fetch(
        f"SELECT s.line, s.dunning_policy,"
        f"       (SELECT MIN(h.name) FROM {POLICY} h WHERE lower(h.name) = lower(s.dunning_policy))"
        f" FROM {STAGING} s WHERE s.dunning_policy IS NOT NULL"
        f" AND NOT EXISTS (SELECT 1 FROM {POLICY} p WHERE p.name = s.dunning_policy)"
    )
    return [
        RowError(
            line,
            labels["dunning_policy"],
            f'unknown dunning policy "{name}"'
            + (f' (did you mean "{hint}"? names match exactly)' if hint is not None else ""),
        )
        for line, name, hint in rows
    ]


def decimals_of_customer_currency(db: Db, labels: Mapping[str, str]) -> list[RowError]:
    """Rows without a currency take the customer's; their decimals can only be checked here."""
    currencies = [
        code
        for (code,) in db.fetch(
            f"SELECT DISTINCT c.currency FROM {STAGING} s JOIN {CUSTOMER} c ON c.external_id = s.customer"
            f" WHERE s.currency IS NULL"
        )
    ]
    if not currencies:
        return []
    places, params = _minor_units_case("c.currency", currencies)
    rows = db.fetch(
        f"SELECT s.line, s.amount, c.currency, {places} FROM {STAGING} s"
        f" JOIN {CUSTOMER} c ON c.external_id = s.customer"
        f" WHERE s.currency IS NULL AND s.amount <> ROUND(s.amount, {places})",
        params + params,
    )
    return [
        RowError(
            line,
            labels["amount"],
            f"{amount} has more decimals than {currency} allows ({places}), the currency of the customer",
        )
        for line, amount, currency, places in rows
    ]


def _minor_units_case(column: str, currencies: Iterable[str]) -> tuple[str, list[Any]]:
    """SQL giving the minor units of the currency in `column`, for the currencies that occur."""
    odd = [(code, places) for code in currencies if code and (places := minor_units(code)) != 2]
    if not odd:
        return "2", []
    whens = " ".join("WHEN %s THEN %s" for _ in odd)
    return f"CASE {column} {whens} ELSE 2 END", [value for pair in odd for value in pair]
