"""Demo data: a realistic two-year receivables ledger, generated in memory and written in bulk.

Every customer gets a payment behaviour (prompt, slow, chronic late, dispute-prone, never pays) that decides
when and how its invoices settle: on time or late, in one payment or in instalments, overpaid, partly
credited, written off, or still open today. The rows are built in Python, written with bulk_create, and the
kept balances are then recomputed set-based by `refresh_balances`, which also checks that no allocation
history over-settles a document at any date. The same seed and the same `today` give the same ledger.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction

from recoup.core.errors import DomainError
from recoup.core.events import record_event
from recoup.core.money import quantize
from recoup.ledger.models import (
    Allocation,
    AllocationKind,
    Contact,
    CreditNote,
    Customer,
    FxRate,
    Invoice,
    Payment,
)
from recoup.ledger.services import refresh_balances
from recoup.users.models import Role, User

DAYS = 730  # two years of history up to today
INVOICES_PER_CUSTOMER = 35
DEFAULT_CUSTOMERS = 320
BATCH = 2000
CreditT = TypeVar("CreditT", Payment, CreditNote)
ZERO = Decimal(0)

# username, role, first name, last name. The demo password of each is DEMO_PASSWORD_PREFIX + username.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("admin", Role.ADMIN, "Ada", "Admin"),
    ("manager", Role.MANAGER, "Morgan", "Manager"),
    ("collector", Role.COLLECTOR, "Casey", "Collector"),
    ("collector2", Role.COLLECTOR, "Chris", "Collins"),
    ("resolver", Role.RESOLVER, "Robin", "Resolver"),
    ("resolver2", Role.RESOLVER, "Riley", "Reyes"),
    ("viewer", Role.VIEWER, "Val", "Viewer"),
)
DEMO_PASSWORD_PREFIX = "demo-"


@dataclass(frozen=True)
class Behaviour:
    """How one kind of customer pays. Delays are days after the due date; probabilities are per invoice."""

    name: str
    share: int  # percent of customers
    pays: float  # probability an invoice is ever paid
    delay: tuple[int, int, int]  # triangular(low, high, mode) days after due
    partial: float  # pays in two instalments
    overpay: float  # pays more than owed; the rest stays unapplied cash
    credit_note: float  # gets a credit note (price adjustment, return)
    write_off: float  # an unpaid invoice older than ~200 days past due is written off
    pay_run: bool  # pays on a weekly pay-run day


BEHAVIOURS = (
    Behaviour("prompt", 35, 0.998, (-8, 6, 0), 0.02, 0.01, 0.02, 0.0, True),
    Behaviour("slow", 30, 0.99, (3, 60, 18), 0.10, 0.02, 0.03, 0.0, True),
    Behaviour("chronic_late", 20, 0.93, (25, 170, 60), 0.25, 0.01, 0.04, 0.15, False),
    Behaviour("dispute_prone", 10, 0.95, (5, 120, 30), 0.10, 0.01, 0.18, 0.2, False),
    Behaviour("never_pays", 5, 0.25, (60, 300, 150), 0.30, 0.0, 0.05, 0.6, False),
)

# Country: currency, time zone, language, company suffix, a region word for duplicate names, phone prefix.
COUNTRIES = {
    "US": ("USD", "America/New_York", "en", "Inc.", "of America", "+1 555"),
    "CA": ("USD", "America/Toronto", "en", "Ltd.", "Canada", "+1 555"),
    "DE": ("EUR", "Europe/Berlin", "de", "GmbH", "Deutschland", "+49 30"),
    "FR": ("EUR", "Europe/Paris", "fr", "SARL", "France", "+33 1"),
    "NL": ("EUR", "Europe/Amsterdam", "nl", "B.V.", "Nederland", "+31 20"),
    "ES": ("EUR", "Europe/Madrid", "es", "S.L.", "España", "+34 91"),
    "IE": ("EUR", "Europe/Dublin", "en", "Ltd.", "Ireland", "+353 1"),
    "GB": ("GBP", "Europe/London", "en", "Ltd", "UK", "+44 20"),
}
CURRENCY_SHARE = {"USD": 70, "EUR": 18, "GBP": 12}  # percent of customers
# Segments follow the credit limit, in thousands: big accounts, mid-market, small business.
SEGMENTS = {
    10: "Small business",
    25: "Small business",
    50: "Mid-market",
    100: "Mid-market",
    250: "Enterprise",
}
# Starting rates, in millionths of a USD per unit, and a daily random walk.
FX_START = {"EUR": 1_085_000, "GBP": 1_265_000}


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",")]


_PREFIXES = _words(
    "Acme, Apex, Atlas, Aurora, Beacon, Birch, Blue Harbor, Brightline, Cascade, Cedar, Cobalt, Crescent, "
    "Delta, Evergreen, Falcon, Foxglove, Granite, Harbor, Helix, Horizon, Ironwood, Juniper, Keystone, "
    "Lakeside, Lumen, Meridian, Northwind, Oakridge, Orion, Pinnacle, Quarry, Redwood, Riverbend, "
    "Saffron, Silverline, Summit, Tidewater, Trillium, Vantage, Willow, Zenith"
)
_TRADES = _words(
    "Logistics, Foods, Manufacturing, Supply, Hospitality, Construction, Retail, Medical, Energy, "
    "Textiles, Printing, Engineering, Pharma, Packaging, Outfitters, Electronics, Auto Parts, Farms, "
    "Labs, Interiors, Marine, Robotics, Beverages, Software, Tooling"
)
_FIRST = _words(
    "Alex, Sam, Jordan, Taylor, Maria, Priya, Jonas, Chloé, Liam, Sofia, Noah, Aisha, Lukas, Emma, Mateo, "
    "Hannah, Oliver, Zoe, Ravi, Ines"
)
_LAST = _words(
    "Smith, Garcia, Müller, Dubois, Jansen, Patel, O'Brien, Rossi, Kowalski, Nguyen, Brown, Schmidt, "
    "Martin, Lopez, Walker, Fischer, Moreau, de Vries, Khan, Murphy"
)


@dataclass
class DemoLogin:
    username: str
    role: str
    password: str | None  # None when the user existed before and kept its own password


@dataclass
class DemoResult:
    seed: int
    today: dt.date
    counts: dict[str, int]
    logins: list[DemoLogin] = field(default_factory=list)


# In-memory rows ---------------------------------------------------------------------------------------------


@dataclass
class _Inv:
    external_id: str
    customer: int  # index into the customer list
    issue: dt.date
    due: dt.date
    amount: Decimal
    currency: str
    applied: list[tuple[dt.date, Decimal]] = field(default_factory=list)

    def open_after(self) -> Decimal:
        return self.amount - sum((a for _, a in self.applied), ZERO)


@dataclass
class _Credit:
    """A payment or credit note being built; `legs` are its allocations (invoice, amount, date)."""

    external_id: str
    customer: int
    date: dt.date
    currency: str
    amount: Decimal = ZERO
    legs: list[tuple[_Inv, Decimal, dt.date]] = field(default_factory=list)
    text: str = ""


@dataclass
class _Reversal:
    payment: _Credit
    leg: int  # index into payment.legs of the allocation it reverses
    date: dt.date
    memo: str


@dataclass
class _Plan:
    customers: list[Customer]
    contacts: list[Contact]
    behaviours: list[Behaviour]
    invoices: list[_Inv]
    payments: list[_Credit]
    credit_notes: list[_Credit]
    write_offs: list[tuple[_Inv, Decimal, dt.date, str]]
    reversals: list[_Reversal]
    moves: list[tuple[_Credit, _Inv, Decimal, dt.date, str]]  # re-application after a reversal
    fx_rates: list[FxRate]


# Services ---------------------------------------------------------------------------------------------------


def ledger_is_empty() -> bool:
    models = (Customer, Invoice, Payment, CreditNote, Allocation, FxRate)
    return not any(model.objects.exists() for model in models)


@transaction.atomic
def ledger_reset(*, actor: Any) -> dict[str, int]:
    """Delete every ledger row, in the order the PROTECT foreign keys demand. Users and events stay."""
    deleted = {
        "allocations": Allocation.objects.filter(reverses__isnull=False).delete()[0],
    }
    deleted["allocations"] += Allocation.objects.all().delete()[0]
    for name, model in (
        ("payments", Payment),
        ("credit_notes", CreditNote),
        ("invoices", Invoice),
        ("contacts", Contact),
        ("customers", Customer),
        ("fx_rates", FxRate),
    ):
        deleted[name] = model.objects.all().delete()[0]
    record_event(actor=actor, verb="ledger.reset", data=deleted)
    return deleted


@transaction.atomic
def demo_seed(*, actor: Any, seed: int = 1, today: dt.date, customers: int = DEFAULT_CUSTOMERS) -> DemoResult:
    """Fill an empty ledger with demo data and create one user per role. Refuses a non-empty ledger."""
    if not ledger_is_empty():
        raise DomainError("The ledger already holds data; reset it first (recoup demo --reset).")
    if customers < 1:
        raise DomainError("The demo needs at least one customer.", field="customers")
    logins, users = _demo_users()
    collectors = [u for u in users if u.role == Role.COLLECTOR]
    plan = _plan(random.Random(seed), today=today, n_customers=customers, collectors=collectors)
    counts = _write(plan)
    counts["users"] = len(users)
    record_event(actor=actor, verb="demo.seeded", data={"seed": seed, "today": today.isoformat(), **counts})
    return DemoResult(seed=seed, today=today, counts=counts, logins=logins)


def demo_logins() -> list[DemoLogin]:
    """The demo users that exist, with their demo password where it still works."""
    found = {u.username: u for u in User.objects.filter(username__in=[u[0] for u in DEMO_USERS])}
    logins = []
    for username, *_ in DEMO_USERS:
        user = found.get(username)
        if user is None:
            continue
        password = DEMO_PASSWORD_PREFIX + username
        logins.append(DemoLogin(username, user.role, password if user.check_password(password) else None))
    return logins


def _demo_users() -> tuple[list[DemoLogin], list[User]]:
    logins, users = [], []
    for username, role, first, last in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        password: str | None = DEMO_PASSWORD_PREFIX + username
        if user is None:
            user = User(
                username=username,
                role=role,
                first_name=first,
                last_name=last,
                email=f"{username}@recoup.example",
                # The admin can use Django admin like a `recoup createsuperuser` user.
                is_superuser=role == Role.ADMIN,
            )
            user.set_password(password)
            user.save()
        else:
            password = None  # never overwrite the password of someone who was there first
        users.append(user)
        logins.append(DemoLogin(username, user.role, password))
    return logins, users


# Planning: everything in memory, no queries -----------------------------------------------------------------


def _plan(rng: random.Random, *, today: dt.date, n_customers: int, collectors: list[User]) -> _Plan:
    start = today - dt.timedelta(days=DAYS)
    customers, contacts, behaviours = _plan_customers(rng, n_customers, collectors)
    invoices = _plan_invoices(rng, customers, start=start, today=today)
    plan = _Plan(customers, contacts, behaviours, invoices, [], [], [], [], [], _plan_fx(rng, start, today))
    _plan_settlements(rng, plan, today=today)
    _plan_misapplications(rng, plan, today=today)
    return plan


def _pick_weighted(rng: random.Random, options: tuple[Any, ...], weight: Any) -> Any:
    return rng.choices(options, weights=[weight(o) for o in options])[0]


def _plan_customers(
    rng: random.Random, n: int, collectors: list[User]
) -> tuple[list[Customer], list[Contact], list[Behaviour]]:
    customers, contacts, behaviours = [], [], []
    names: set[str] = set()
    for i in range(n):
        behaviour = _pick_weighted(rng, BEHAVIOURS, lambda b: b.share)
        currency = _pick_weighted(rng, tuple(CURRENCY_SHARE), CURRENCY_SHARE.__getitem__)
        country = rng.choice(sorted(c for c, facts in COUNTRIES.items() if facts[0] == currency))
        _, timezone, language, suffix, region, dialling = COUNTRIES[country]
        prefix, trade = rng.choice(_PREFIXES), rng.choice(_TRADES)
        name = f"{prefix} {trade} {suffix}"
        if name in names:
            name = f"{prefix} {trade} {region} {suffix}"
        if name in names:
            name = f"{prefix} {trade} {i + 1} {suffix}"
        names.add(name)
        limit_units = rng.choice((10, 25, 50, 100, 250))
        customer = Customer(
            external_id=f"CUST-{i + 1:05d}",
            name=name,
            currency=currency,
            payment_terms_days=rng.choice((15, 30, 30, 30, 45, 60)),
            credit_limit=Decimal(limit_units * 1000),
            timezone=timezone,
            country=country,
            language=language,
            # Nobody is assigned to about one customer in ten: the new accounts a manager has to hand out.
            collector=collectors[i % len(collectors)] if collectors and rng.random() > 0.1 else None,
            on_hold=behaviour.name in {"chronic_late", "never_pays"} and rng.random() < 0.3,
            do_not_dun=behaviour.name == "dispute_prone" and rng.random() < 0.15,
            segment=SEGMENTS[limit_units],
        )
        customers.append(customer)
        behaviours.append(behaviour)
        domain = "".join(ch for ch in name.lower().split()[0] if ch.isalnum()) + f"{i + 1}.example"
        phone = f"{dialling} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        contacts.append(
            Contact(customer=customer, name="Accounts Payable", email=f"ap@{domain}", phone=phone)
        )
        for _ in range(rng.choice((0, 1, 1, 2))):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
            local = "".join(ch for ch in ascii_name.lower() if ch.isalnum() or ch == ".")
            contacts.append(Contact(customer=customer, name=f"{first} {last}", email=f"{local}@{domain}"))
    return customers, contacts, behaviours


def _cents(value: float) -> Decimal:
    """A money amount from a random draw: whole cents first, so no float reaches a Decimal."""
    return Decimal(max(int(value * 100), 100)).scaleb(-2)


def _plan_invoices(
    rng: random.Random, customers: list[Customer], *, start: dt.date, today: dt.date
) -> list[_Inv]:
    # A few large accounts and a long tail, INVOICES_PER_CUSTOMER invoices per customer on average.
    weights = [rng.lognormvariate(0, 0.8) for _ in customers]
    total = INVOICES_PER_CUSTOMER * len(customers)
    scale = total / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    drafts: list[tuple[dt.date, int, Decimal]] = []
    for index, count in enumerate(counts):
        typical = rng.lognormvariate(7.6, 0.9)  # a customer's usual order size, about 2,000 at the median
        for _ in range(count):
            issue = start + dt.timedelta(days=rng.randrange(DAYS + 1))
            drafts.append((issue, index, _cents(typical * rng.lognormvariate(0, 0.5))))
    drafts.sort(key=lambda d: (d[0], d[1]))
    invoices = []
    for n, (issue, index, amount) in enumerate(drafts, start=1):
        customer = customers[index]
        due = issue + dt.timedelta(days=customer.payment_terms_days)
        invoices.append(
            _Inv(f"INV-{n:06d}", index, issue, due, quantize(amount, customer.currency), customer.currency)
        )
    return invoices


def _plan_fx(rng: random.Random, start: dt.date, today: dt.date) -> list[FxRate]:
    """One rate per business day for each currency but the base, from before the first invoice up to today.

    EUR and GBP walk randomly against USD; rates against another base currency are derived from those walks.
    """
    days = [start + dt.timedelta(days=n) for n in range(-7, (today - start).days + 1)]
    days = [day for day in days if day.weekday() < 5]
    usd_value = {"USD": [1_000_000] * len(days)}  # millionths of a USD per unit, day by day
    for currency, micro in FX_START.items():
        usd_value[currency] = walk = []
        for _ in days:
            walk.append(micro)
            micro = max(500_000, micro + int(rng.gauss(0, 3500)))
    base = settings.BASE_CURRENCY
    if base not in usd_value:
        raise DomainError(
            f"The demo data is in {', '.join(usd_value)}: set BASE_CURRENCY to one of them, not {base}.",
            field="currency",
        )
    micro_unit = Decimal("0.000001")
    return [
        FxRate(
            currency=currency,
            date=day,
            rate=(Decimal(walk[i]) / Decimal(usd_value[base][i])).quantize(micro_unit),
        )
        for currency, walk in usd_value.items()
        if currency != base
        for i, day in enumerate(days)
    ]


def _next_weekday(day: dt.date, weekday: int | None) -> dt.date:
    """The first business day on or after `day`; with a weekday, the first such weekday (a pay run)."""
    while day.weekday() >= 5 or (weekday is not None and day.weekday() != weekday):
        day += dt.timedelta(days=1)
    return day


def _triangular(rng: random.Random, spec: tuple[int, int, int]) -> int:
    low, high, mode = spec
    return round(rng.triangular(low, high, mode))


def _plan_settlements(rng: random.Random, plan: _Plan, *, today: dt.date) -> None:
    """Credit notes, payments, overpayments, payments on account and write-offs, invoice by invoice."""
    pay_runs = [rng.randrange(5) for _ in plan.customers]  # Monday to Friday
    remittances: dict[tuple[int, dt.date], _Credit] = {}
    for inv in plan.invoices:
        b = plan.behaviours[inv.customer]
        # A credit note for a price adjustment or a return: usually applied, sometimes left as credit.
        if rng.random() < b.credit_note:
            note_date = inv.issue + dt.timedelta(days=rng.randint(3, 45))
            if note_date <= today:
                full = rng.random() < 0.15
                amount = (
                    inv.amount
                    if full
                    else quantize(inv.amount * Decimal(rng.randint(5, 30)) / 100, inv.currency)
                )
                note = _Credit(
                    f"CN-{len(plan.credit_notes) + 1:05d}",
                    inv.customer,
                    note_date,
                    inv.currency,
                    amount,
                    text="Cancelled invoice"
                    if full
                    else rng.choice(
                        ("Price adjustment", "Damaged goods returned", "Short shipment", "Volume rebate")
                    ),
                )
                plan.credit_notes.append(note)
                if rng.random() < 0.8:
                    note.legs.append((inv, amount, note_date))
                    inv.applied.append((note_date, amount))
        remaining = inv.open_after()
        if remaining <= 0:
            continue
        paid_on: dt.date | None = None
        if rng.random() < b.pays:
            pay_day = pay_runs[inv.customer] if b.pay_run else None
            target = inv.due + dt.timedelta(days=_triangular(rng, b.delay))
            paid_on = _next_weekday(max(target, inv.issue + dt.timedelta(days=1)), pay_day)
            instalments: list[tuple[dt.date, Decimal]] = []
            if rng.random() < b.partial and remaining >= 2:
                first = quantize(remaining * Decimal(rng.randint(25, 75)) / 100, inv.currency)
                early = _next_weekday(inv.issue + (paid_on - inv.issue) * 3 // 5 + dt.timedelta(days=1), None)
                if inv.issue < early < paid_on:
                    instalments.append((early, first))
            instalments.append((paid_on, remaining - sum((a for _, a in instalments), ZERO)))
            for day, amount in instalments:
                if day > today:
                    break
                extra = ZERO
                if rng.random() < b.overpay:
                    extra = quantize(amount * Decimal(rng.randint(1, 12)) / 100, inv.currency) or Decimal(1)
                key = (inv.customer, day)
                payment = remittances.get(key) if b.pay_run and not extra else None
                if payment is None or payment.currency != inv.currency:
                    payment = _Credit(f"PAY-{len(plan.payments) + 1:06d}", inv.customer, day, inv.currency)
                    plan.payments.append(payment)
                    if b.pay_run and not extra:
                        remittances[key] = payment
                payment.amount += amount + extra
                payment.legs.append((inv, amount, day))
                inv.applied.append((day, amount))
        # Bad debt: long overdue and unpaid, written off after about two hundred days.
        write_off_on = inv.due + dt.timedelta(days=rng.randint(180, 240))
        unpaid = paid_on is None or paid_on > today
        if (
            inv.open_after() > 0
            and b.write_off
            and write_off_on <= today
            and unpaid
            and rng.random() < b.write_off
        ):
            amount = inv.open_after()
            plan.write_offs.append((inv, amount, write_off_on, "Uncollectible: approved by AR manager"))
            inv.applied.append((write_off_on, amount))
    # A few payments on account: cash that names no invoice and stays unapplied customer credit.
    for index, behaviour in enumerate(plan.behaviours):
        if behaviour.name in {"slow", "chronic_late"} and rng.random() < 0.08:
            day = _next_weekday(today - dt.timedelta(days=rng.randint(3, 120)), None)
            if day <= today:
                currency = plan.customers[index].currency
                plan.payments.append(
                    _Credit(
                        f"PAY-{len(plan.payments) + 1:06d}",
                        index,
                        day,
                        currency,
                        Decimal(rng.choice((500, 1000, 2500, 5000))),
                        text="Payment on account",
                    )
                )
    for payment in plan.payments:
        if not payment.text:
            payment.text = f"Remittance {payment.external_id[4:]}"


def _plan_misapplications(rng: random.Random, plan: _Plan, *, today: dt.date) -> None:
    """A few payments applied to the wrong invoice, then reversed and moved to the right one."""
    by_customer: dict[int, list[_Inv]] = defaultdict(list)
    for inv in plan.invoices:
        by_customer[inv.customer].append(inv)
    candidates = [
        p
        for p in plan.payments
        if len(p.legs) == 1 and p.amount == p.legs[0][1] and p.date <= today - dt.timedelta(days=30)
    ]
    rng.shuffle(candidates)
    wanted = max(1, min(4, len(plan.customers) // 50))
    used: set[str] = set()
    for payment in candidates:
        if len(plan.reversals) >= wanted:
            break
        wrong, amount, day = payment.legs[0]
        if wrong.applied != [(day, amount)] or wrong.external_id in used:
            continue
        moved_on = _next_weekday(day + dt.timedelta(days=rng.randint(2, 9)), None)
        # The right invoice: same customer and currency, issued by then, and with room for the whole payment
        # at every date (its own later payments never take it below this amount).
        right = next(
            (
                inv
                for inv in by_customer[payment.customer]
                if inv is not wrong
                and inv.currency == payment.currency
                and inv.issue <= moved_on
                and inv.open_after() >= amount
                and inv.external_id not in used
            ),
            None,
        )
        if right is None or moved_on > today:
            continue
        used.update({wrong.external_id, right.external_id})
        plan.reversals.append(_Reversal(payment, 0, moved_on, f"Applied to {wrong.external_id} in error"))
        plan.moves.append((payment, right, amount, moved_on, f"Moved from {wrong.external_id}"))
        wrong.applied.append((moved_on, -amount))
        right.applied.append((moved_on, amount))


# Writing: bulk inserts, then one set-based refresh ----------------------------------------------------------


def _create_credits(model: type[CreditT], documents: list[Any], text_field: str, cust: Any) -> None:
    """Payments and credit notes, wholly unapplied; they differ only in their free-text field."""
    rows = [
        model(
            external_id=d.external_id,
            customer_id=cust(d.customer),
            date=d.date,
            amount=d.amount,
            currency=d.currency,
            unapplied_amount=d.amount,
            **{text_field: d.text},
        )
        for d in documents
    ]
    model.objects.bulk_create(rows, batch_size=BATCH)


def _write(plan: _Plan) -> dict[str, int]:
    Customer.objects.bulk_create(plan.customers, batch_size=BATCH)
    customer_pk = dict(Customer.objects.values_list("external_id", "pk"))
    for contact in plan.contacts:
        contact.customer_id = customer_pk[contact.customer.external_id]
    Contact.objects.bulk_create(plan.contacts, batch_size=BATCH)
    FxRate.objects.bulk_create(plan.fx_rates, batch_size=BATCH)

    def cust(index: int) -> int:
        return customer_pk[plan.customers[index].external_id]

    Invoice.objects.bulk_create(
        (
            Invoice(
                external_id=i.external_id,
                customer_id=cust(i.customer),
                issue_date=i.issue,
                due_date=i.due,
                amount=i.amount,
                currency=i.currency,
                open_amount=i.amount,
            )
            for i in plan.invoices
        ),
        batch_size=BATCH,
    )
    _create_credits(Payment, plan.payments, "reference", cust)
    _create_credits(CreditNote, plan.credit_notes, "reason", cust)
    invoice_pk = dict(Invoice.objects.values_list("external_id", "pk"))
    payment_pk = dict(Payment.objects.values_list("external_id", "pk"))
    note_pk = dict(CreditNote.objects.values_list("external_id", "pk"))

    rows: list[Allocation] = []
    for note in plan.credit_notes:
        rows += [
            Allocation(
                invoice_id=invoice_pk[inv.external_id],
                kind=AllocationKind.CREDIT_NOTE,
                credit_note_id=note_pk[note.external_id],
                amount=amount,
                currency=inv.currency,
                date=day,
                memo=note.text,
            )
            for inv, amount, day in note.legs
        ]
    for payment in plan.payments:
        rows += [
            Allocation(
                invoice_id=invoice_pk[inv.external_id],
                kind=AllocationKind.PAYMENT,
                payment_id=payment_pk[payment.external_id],
                amount=amount,
                currency=inv.currency,
                date=day,
            )
            for inv, amount, day in payment.legs
        ]
    for payment, inv, amount, day, memo in plan.moves:
        rows.append(
            Allocation(
                invoice_id=invoice_pk[inv.external_id],
                kind=AllocationKind.PAYMENT,
                payment_id=payment_pk[payment.external_id],
                amount=amount,
                currency=inv.currency,
                date=day,
                memo=memo,
            )
        )
    rows += [
        Allocation(
            invoice_id=invoice_pk[inv.external_id],
            kind=AllocationKind.WRITE_OFF,
            amount=amount,
            currency=inv.currency,
            date=day,
            memo=memo,
        )
        for inv, amount, day, memo in plan.write_offs
    ]
    Allocation.objects.bulk_create(rows, batch_size=BATCH)
    # Reversals point at the rows they reverse, so they go in once those have primary keys.
    reversals = []
    for reversal in plan.reversals:
        inv, amount, day = reversal.payment.legs[reversal.leg]
        original = Allocation.objects.get(
            payment_id=payment_pk[reversal.payment.external_id],
            invoice_id=invoice_pk[inv.external_id],
            reverses__isnull=True,
        )
        reversals.append(
            Allocation(
                invoice_id=original.invoice_id,
                kind=original.kind,
                payment_id=original.payment_id,
                amount=-original.amount,
                currency=original.currency,
                date=reversal.date,
                reverses=original,
                memo=reversal.memo,
            )
        )
    Allocation.objects.bulk_create(reversals, batch_size=BATCH)

    refresh_balances(
        invoices=Invoice.objects.all(), payments=Payment.objects.all(), credit_notes=CreditNote.objects.all()
    )
    return {
        "customers": len(plan.customers),
        "contacts": len(plan.contacts),
        "invoices": len(plan.invoices),
        "payments": len(plan.payments),
        "credit_notes": len(plan.credit_notes),
        "allocations": len(rows) + len(reversals),
        "write_offs": len(plan.write_offs),
        "reversals": len(reversals),
        "fx_rates": len(plan.fx_rates),
    }
