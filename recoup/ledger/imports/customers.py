"""Customers: checks, then a set-based update of the existing ones and an insert of the new ones.

An empty or absent optional column keeps what the ledger holds (or the model's default for a new customer):
an import never blanks a field. `collector` is a username and `dunning_policy` a policy's name, each joined
in SQL. `email` sets the customer's AP contact: the first AP contact gets that address, or one is created
when the customer has none.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Field

from recoup.ledger.imports import checks
from recoup.ledger.imports.rows import RowError
from recoup.ledger.imports.staging import STAGING, Db
from recoup.ledger.imports.totals import Totals
from recoup.ledger.models import Contact, Customer
from recoup.users.models import User

CUSTOMER = Customer._meta.db_table
CONTACT = Contact._meta.db_table
USER = User._meta.db_table

# Optional fields with a model default for new customers; the others default to NULL.
_DEFAULTED = (
    "currency",
    "payment_terms_days",
    "timezone",
    "country",
    "language",
    "on_hold",
    "do_not_dun",
    "segment",
)
_NULLABLE = ("credit_limit", "collector_id", "dunning_policy_id")
_OPTIONAL = (*_DEFAULTED, *_NULLABLE)


def validate(db: Db, labels: Mapping[str, str]) -> list[RowError]:
    errors = checks.duplicate_ids(db, labels) + checks.unknown_dunning_policies(db, labels)
    rows = db.fetch(
        f"SELECT s.line, s.collector FROM {STAGING} s WHERE s.collector IS NOT NULL"
        f" AND NOT EXISTS (SELECT 1 FROM {USER} u WHERE u.username = s.collector)"
    )
    return errors + [
        RowError(line, labels["collector"], f'unknown user "{username}"') for line, username in rows
    ]


def write(db: Db, totals: Totals) -> None:
    staged = (
        f"(SELECT s.*, u.id AS collector_id, p.id AS dunning_policy_id FROM {STAGING} s"
        f" LEFT JOIN {USER} u ON u.username = s.collector"
        f" LEFT JOIN {checks.POLICY} p ON p.name = s.dunning_policy)"
    )
    sets = ", ".join(f"{name} = COALESCE(s.{name}, {CUSTOMER}.{name})" for name in _OPTIONAL)
    changed = " OR ".join(
        f"(s.{name} IS NOT NULL AND {db.differs(f'{CUSTOMER}.{name}', f's.{name}')})" for name in _OPTIONAL
    )
    totals.updated = db.execute(
        f"UPDATE {CUSTOMER} SET updated_at = %s, name = s.name, {sets} FROM {staged} s"
        f" WHERE {CUSTOMER}.external_id = s.external_id AND ({CUSTOMER}.name <> s.name OR {changed})",
        [db.now],
    )
    defaults = [_default(name) for name in _DEFAULTED]
    totals.created = db.execute(
        f"INSERT INTO {CUSTOMER} (created_at, updated_at, external_id, name, {', '.join(_OPTIONAL)})"
        f" SELECT %s, %s, s.external_id, s.name, {', '.join(f'COALESCE(s.{n}, %s)' for n in _DEFAULTED)},"
        f"        {', '.join(f's.{n}' for n in _NULLABLE)}"
        f" FROM {staged} s WHERE NOT EXISTS (SELECT 1 FROM {CUSTOMER} t WHERE t.external_id = s.external_id)",
        [db.now, db.now, *defaults],
    )
    totals.unchanged = totals.rows - totals.created - totals.updated
    _set_ap_contacts(db, totals)


def _set_ap_contacts(db: Db, totals: Totals) -> None:
    with_email = (
        f"FROM {STAGING} s JOIN {CUSTOMER} c ON c.external_id = s.external_id WHERE s.email IS NOT NULL"
    )
    totals.contacts_updated = db.execute(
        f"UPDATE {CONTACT} SET email = s.email, updated_at = %s {with_email}"
        f"   AND {CONTACT}.id = (SELECT MIN(k.id) FROM {CONTACT} k WHERE k.customer_id = c.id AND k.is_ap)"
        f"   AND NOT EXISTS (SELECT 1 FROM {CONTACT} k WHERE k.customer_id = c.id AND k.is_ap"
        f"                   AND k.email = s.email)",
        [db.now],
    )
    totals.contacts_created = db.execute(
        f"INSERT INTO {CONTACT} (created_at, updated_at, customer_id, name, email, phone, is_ap)"
        f" SELECT %s, %s, c.id, '', s.email, '', %s {with_email}"
        f"   AND NOT EXISTS (SELECT 1 FROM {CONTACT} k WHERE k.customer_id = c.id AND k.is_ap)",
        [db.now, db.now, True],
    )


def _default(name: str) -> object:
    field = Customer._meta.get_field(name)
    assert isinstance(field, Field)
    return field.get_default()
