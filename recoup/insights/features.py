"""Features of an invoice as of a date, from facts known on that date only. Pure numpy: no ORM, no today().

A *moment* is a pair (invoice, D): "what do we know about this invoice at the end of day D?". Each feature
of a moment is computed from

- the invoice's own attributes (amount, terms, issue and due dates) and its state at the end of D (its age,
  its days past due, the part already paid, a dispute open on it on D), and
- facts about the customer's *other* invoices dated on or before D: the settlements, the invoices issued,
  the disputes opened and resolved, the promises known to be broken.

Nothing dated after D enters a moment, which is what makes a backtest honest and what the no-leakage test
checks. Every "as of D" sum is a cumulative sum over events sorted by (group, date), read with one binary
search per moment (`_Cumulative`): set-based, no Python loop over invoices, so two million invoices take
seconds. A condition on two dates ("due before D *and* not settled by D") becomes a condition on one
(max(due + 1, settled) <= D), so those stay one-dimensional too.

An invoice counts as *settled* from the first day its allocations covered its whole amount
(`first_settled`). A later reversal does not move that day, so it is a fact dated on that day.

Dates are proleptic ordinals (`date.toordinal()`), amounts floats in the base currency: features are
statistics, not money; money stays Decimal everywhere it is stored or shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

NEVER = 10**7  # the ordinal of "not settled" / "not resolved": later than any date (date.max is 3_652_059)
_SPAN = 1 << 24  # keys are group * _SPAN + a date-like value below it (2 * ordinal + 1 < 2**22)

# Moments the model learns from beyond the issue date, for an invoice still open then: a week before the due
# date, the due date, and 15, 30, 60 and 90 days after it. Scoring happens at any age, so the model must have
# seen open invoices of every age, not only new ones.
LANDMARKS_FROM_DUE = (-7, 0, 15, 30, 60, 90)

# (name, group, what it says). The group is what the risk drivers name.
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("terms_days", "terms", "days from issue to due date"),
    ("log_amount", "amount", "log10 of the amount in the base currency"),
    ("amount_vs_usual", "amount", "the amount over the customer's mean invoice before D"),
    ("age_days", "age", "days since issue, on D"),
    ("days_past_due", "age", "D minus the due date (negative before it)"),
    ("paid_share", "age", "the share of the invoice already paid or credited by D"),
    ("disputed_now", "disputes", "the share of the invoice in a dispute open on D"),
    ("disputed_before", "disputes", "1 if a dispute was ever opened on the invoice by D"),
    ("issue_month", "calendar", "month of the issue date"),
    ("issue_weekday", "calendar", "weekday of the issue date (Monday 0)"),
    ("due_weekday", "calendar", "weekday of the due date"),
    ("due_day", "calendar", "day of the month of the due date"),
    ("due_to_month_end", "calendar", "days from the due date to the end of its month"),
    ("hist_count", "history", "the customer's invoices settled by D"),
    ("hist_mean_days", "history", "their mean days to settle"),
    ("hist_std_days", "history", "the spread (standard deviation) of their days to settle"),
    ("hist_mean_late", "history", "their mean days settled after the due date (negative: early)"),
    ("hist_late_rate", "history", "the share settled after the due date"),
    ("hist_late30_rate", "history", "the share settled more than 30 days after it"),
    ("hist_last_days", "history", "days to settle of the last one settled"),
    ("hist_last_late", "history", "days late of the last one settled"),
    ("hist_recent_days", "history", "mean days to settle of the last 3 settled"),
    ("hist_trend", "history", "the mean of the last 5 minus the mean of all: getting slower or faster"),
    ("hist_slope", "history", "days to settle per year, least squares over the settlement dates"),
    ("hist_days_undisputed", "history", "mean days to settle of those never disputed"),
    ("hist_recent_undisputed", "history", "mean days to settle of the last 4 never disputed"),
    ("hist_days_disputed", "history", "mean days to settle of those disputed"),
    ("hist_dispute_rate", "history", "the share of them that were disputed"),
    ("days_since_settlement", "history", "days from the customer's last settlement to D"),
    ("open_count", "exposure", "the customer's other invoices open on D"),
    ("open_amount", "exposure", "their amount, log10 of the base currency"),
    ("overdue_count", "exposure", "those past their due date on D"),
    ("overdue_share", "exposure", "the share of the open amount past due"),
    ("over30_count", "exposure", "those more than 30 days past due"),
    ("over90_count", "exposure", "those more than 90 days past due"),
    ("credit_use", "credit", "open amount (this invoice included) over the credit limit"),
    ("active_disputes", "disputes", "disputes open on D on the customer's other invoices"),
    ("disputes_365", "disputes", "disputes opened on other invoices in the 365 days to D"),
    ("broken_promises", "promises", "promises to pay known broken by D"),
    ("broken_promises_180", "promises", "of those, the ones that came due in the 180 days to D"),
)
FEATURE_NAMES = tuple(name for name, _, _ in FEATURES)
FEATURE_GROUPS = {name: group for name, group, _ in FEATURES}


@dataclass
class Facts:
    """What the ledger knew, as arrays. Invoices are indexed 0..n-1; the other tables point into them.

    Amounts are in the base currency (each invoice's at the rate of its issue date). `inv_settled` is each
    invoice's first-settled ordinal (NEVER when it never was); `first_settled` computes it from allocations.
    """

    inv_id: Ints
    inv_customer: Ints
    inv_issue: Ints
    inv_due: Ints
    inv_amount: Floats
    inv_settled: Ints
    # Allocations (reversals negative), dated, in the base currency of their invoice.
    alloc_invoice: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    alloc_date: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    alloc_amount: Floats = field(default_factory=lambda: np.zeros(0, np.float64))
    # Which allocations are payments (cash), not credit notes or write-offs; empty: all of them.
    alloc_is_cash: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    # Disputes: the invoice, opened and resolved ordinals (NEVER while active), the amount in base currency.
    dsp_invoice: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    dsp_opened: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    dsp_resolved: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    dsp_amount: Floats = field(default_factory=lambda: np.zeros(0, np.float64))
    # Broken promises: the customer, and the first day the break was known (promised date + grace + 1).
    brk_customer: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    brk_known: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    # Credit limits in the base currency: customer ids (sorted) and limits. A customer not listed has none.
    limit_customer: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    limit_amount: Floats = field(default_factory=lambda: np.zeros(0, np.float64))

    def __len__(self) -> int:
        return len(self.inv_id)

    @property
    def cash(self) -> NDArray[np.bool_]:
        if len(self.alloc_is_cash) == len(self.alloc_date):
            return self.alloc_is_cash
        return np.ones(len(self.alloc_date), np.bool_)

    def open_on(self, day: int, allocations: _Cumulative | None = None) -> tuple[Ints, Floats]:
        """The invoices open at the end of `day` (issued by then, allocations dated by then short of the
        amount) and their open amounts then. `allocations`: a FeatureBuilder's, sorted already."""
        issued = np.flatnonzero(self.inv_issue <= day)
        if allocations is not None:
            paid = allocations.at(issued, np.full(len(issued), day))["amount"]
        else:  # the same sums in the same integer units, without sorting the allocations
            known = self.alloc_date <= day
            total = np.zeros(len(self), dtype=np.int64)
            np.add.at(total, self.alloc_invoice[known], units(self.alloc_amount[known]))
            paid = np.asarray(total[issued] / UNITS, dtype=np.float64)
        left = self.inv_amount[issued] - paid
        still = left > 1e-6 * np.maximum(self.inv_amount[issued], 1.0)
        return issued[still], left[still]

    def of_customers(self, customers: Ints) -> tuple[Facts, Ints]:
        """The facts of these customers only, and the indexes of their invoices here (in order: index k of
        the result is invoice `kept[k]` of these facts). A moment's features depend on its own customer's
        facts alone, so they are the same computed from either (test_features checks it)."""
        keep = np.isin(self.inv_customer, customers)
        kept = np.flatnonzero(keep)
        new_index = np.cumsum(keep) - 1
        a = keep[self.alloc_invoice]
        d = keep[self.dsp_invoice]
        b = np.isin(self.brk_customer, customers)
        lim = np.isin(self.limit_customer, customers)
        sub = Facts(
            inv_id=self.inv_id[kept],
            inv_customer=self.inv_customer[kept],
            inv_issue=self.inv_issue[kept],
            inv_due=self.inv_due[kept],
            inv_amount=self.inv_amount[kept],
            inv_settled=self.inv_settled[kept],
            alloc_invoice=new_index[self.alloc_invoice[a]],
            alloc_date=self.alloc_date[a],
            alloc_amount=self.alloc_amount[a],
            alloc_is_cash=self.alloc_is_cash[a]
            if len(self.alloc_is_cash) == len(a)
            else self.alloc_is_cash[:0],
            dsp_invoice=new_index[self.dsp_invoice[d]],
            dsp_opened=self.dsp_opened[d],
            dsp_resolved=self.dsp_resolved[d],
            dsp_amount=self.dsp_amount[d],
            brk_customer=self.brk_customer[b],
            brk_known=self.brk_known[b],
            limit_customer=self.limit_customer[lim],
            limit_amount=self.limit_amount[lim],
        )
        return sub, kept


def first_settled(
    *, invoice: Ints, date: Ints, amount: Floats, invoice_amount: Floats, tolerance: float = 0.0
) -> Ints:
    """Each invoice's first-settled ordinal: the first date on which the allocations dated on or before it
    add up to the invoice's amount (NEVER when they never do). `invoice` holds indexes into
    `invoice_amount`; amounts are in the invoice's own currency, so no rate blurs the comparison."""
    settled = np.full(len(invoice_amount), NEVER, dtype=np.int64)
    if len(invoice) == 0:
        return settled
    order = np.lexsort((date, invoice))
    inv, day = invoice[order], date[order]
    running = np.cumsum(units(amount[order]))  # exact integers: no rounding carried over from other invoices
    block_start = np.r_[0, np.flatnonzero(inv[1:] != inv[:-1]) + 1]
    before = np.repeat(np.r_[0, running[block_start[1:] - 1]], np.diff(np.r_[block_start, len(inv)]))
    running = running - before
    # A date's total is the running sum at its last allocation: several can share a date.
    last_of_day = np.r_[(inv[1:] != inv[:-1]) | (day[1:] != day[:-1]), True]
    covered = last_of_day & (running >= units(invoice_amount)[inv] - round(tolerance * UNITS))
    hits = np.flatnonzero(covered)
    if len(hits):
        first_hit = hits[np.r_[True, inv[hits[1:]] != inv[hits[:-1]]]]
        settled[inv[first_hit]] = day[first_hit]
    return settled


UNITS = 10_000  # amounts are summed as integers of 1/10,000 (the ledger's four decimal places)


def units(amount: Floats) -> Ints:
    return np.rint(np.asarray(amount, dtype=np.float64) * UNITS).astype(np.int64)


class _Cumulative:
    """Events with a group and a date-like key; `at(groups, keys)` sums the events of each group whose key is
    at most (or, with `strict`, below) the query's.

    The running sums are integers (float values are summed in 1/10,000 units), so a group's sum is exact and
    owes nothing to the events of the groups sorted before it: a moment's features are a function of its
    own customer's facts alone, to the last bit."""

    def __init__(
        self,
        groups: Ints,
        keys: Ints,
        *,
        keep_order: bool = False,
        stable: bool = False,
        order: Ints | None = None,
        **values: Any,
    ) -> None:
        combined = np.asarray(groups, dtype=np.int64) * _SPAN + np.asarray(keys, dtype=np.int64)
        # `order`: the sort of keys that differ from these by a constant, which sort the same. Sums do not
        # depend on the order of equal keys; "the last ones" do: with `stable` events of one day keep their
        # order (the invoices' ids), whatever else is in the ledger.
        if order is None:
            order = np.argsort(combined, kind="stable" if stable or keep_order else "quicksort")
        self.sorted_keys = combined[order]
        del combined
        self.order = order if keep_order else None
        self.scaled = {name for name, v in values.items() if np.asarray(v).dtype.kind == "f"}
        self.cums = {
            name: np.r_[
                np.int64(0), np.cumsum(units(v[order]) if name in self.scaled else v[order].astype(np.int64))
            ]
            for name, v in values.items()
        }

    def positions(self, groups: Ints, keys: Ints, *, strict: bool = False) -> tuple[Ints, Ints]:
        start = np.searchsorted(self.sorted_keys, groups * _SPAN, side="left")
        query = groups * _SPAN + np.clip(keys, -1, _SPAN - 1)
        end = np.searchsorted(self.sorted_keys, query, side="left" if strict else "right")
        return start, np.maximum(end, start)

    def at(self, groups: Ints, keys: Ints, *, strict: bool = False) -> dict[str, Floats]:
        start, end = self.positions(groups, keys, strict=strict)
        sums = {
            name: (cum[end] - cum[start]) / (UNITS if name in self.scaled else 1)
            for name, cum in self.cums.items()
        }
        sums = {name: np.asarray(v, dtype=np.float64) for name, v in sums.items()}
        sums["count"] = (end - start).astype(np.float64)
        return sums


def _nan_div(numerator: Floats, denominator: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numerator / denominator
    out[~np.isfinite(out)] = np.nan
    return out


def _calendar(ordinals: Ints) -> tuple[Ints, Ints, Ints, Ints]:
    """Month, weekday (Monday 0), day of month and days to the month's end, for proleptic ordinals."""
    days = (ordinals - dt.date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    month_end = ((months + 1).astype("datetime64[D]") - days).astype(np.int64) - 1
    weekday = (ordinals - 1) % 7
    return month, weekday, day, month_end


class FeatureBuilder:
    """Builds the feature matrix of any set of moments over one `Facts`. The sorted event tables are made
    once, so a training set of millions of moments and a rescoring of one customer share the same code."""

    def __init__(self, facts: Facts) -> None:
        self.facts = f = facts
        n = len(f)
        cust, issue, due, amount, settled = (
            f.inv_customer,
            f.inv_issue,
            f.inv_due,
            f.inv_amount,
            f.inv_settled,
        )
        done = settled < NEVER
        # Disputes per invoice: ever disputed by its settlement date (a fact known when it settled).
        opened_first = np.full(n, NEVER, dtype=np.int64)
        if len(f.dsp_invoice):
            np.minimum.at(opened_first, f.dsp_invoice, f.dsp_opened)
        self.opened_first = opened_first
        # Settlement history, keyed 2 * settled + (settled on its issue day): a moment at D reads key <= 2D,
        # which leaves out an invoice issued and settled on D itself (the moment's own invoice, at issue).
        h = np.flatnonzero(done)
        days = settled[h] - issue[h]
        late = settled[h] - due[h]
        disputed = (opened_first[h] <= settled[h]).astype(np.int64)
        years = settled[h] - 730_000  # days, near zero for recent dates: the products stay small integers
        self.hist = _Cumulative(
            cust[h],
            2 * settled[h] + (settled[h] == issue[h]),
            keep_order=True,
            days=days,
            days2=days * days,
            late=late,
            is_late=(late > 0).astype(np.int64),
            is_late30=(late > 30).astype(np.int64),
            disputed=disputed,
            days_disputed=days * disputed,
            t=years,
            t2=years * years,
            t_days=years * days,
        )
        clean = disputed == 0
        self.clean = _Cumulative(
            cust[h][clean],
            2 * settled[h][clean] + (settled[h][clean] == issue[h][clean]),
            stable=True,
            days=days[clean],
        )
        assert self.hist.order is not None
        self.hist_days_sorted = days[self.hist.order].astype(np.float64)
        self.hist_late_sorted = late[self.hist.order].astype(np.float64)
        self.hist_settled_sorted = settled[h][self.hist.order]
        self.hist.order = None
        # Exposure: issued, settled, due-and-open, by customer.
        self.issued = _Cumulative(cust, issue, amount=amount)
        self.settled = _Cumulative(cust[h], settled[h], amount=amount[h])
        self.past = {}
        by_due = np.argsort(cust * _SPAN + due, kind="stable")
        for offset in (1, 31, 91):
            self.past[offset] = (
                _Cumulative(cust, due + offset, order=by_due, amount=amount),
                _Cumulative(cust[h], np.maximum(due[h] + offset, settled[h]), amount=amount[h]),
            )
        # The invoice's own allocations (paid share) and disputes.
        self.alloc = _Cumulative(f.alloc_invoice, f.alloc_date, amount=f.alloc_amount)
        dsp_cust = cust[f.dsp_invoice] if len(f.dsp_invoice) else np.zeros(0, np.int64)
        resolved = f.dsp_resolved < NEVER
        self.dsp_open_by_invoice = _Cumulative(f.dsp_invoice, f.dsp_opened, amount=f.dsp_amount)
        self.dsp_resolved_by_invoice = _Cumulative(
            f.dsp_invoice[resolved], f.dsp_resolved[resolved], amount=f.dsp_amount[resolved]
        )
        self.dsp_open_by_customer = _Cumulative(dsp_cust, f.dsp_opened)
        self.dsp_resolved_by_customer = _Cumulative(dsp_cust[resolved], f.dsp_resolved[resolved])
        self.broken = _Cumulative(f.brk_customer, f.brk_known)

    def build(self, rows: Ints, moments: Ints) -> Floats:
        """The feature matrix (one row per moment, columns in FEATURE_NAMES order) of the invoices at indexes
        `rows`, each as of the end of the day `moments` (ordinals)."""
        f = self.facts
        rows = np.asarray(rows, dtype=np.int64)
        d = np.asarray(moments, dtype=np.int64)
        cust = f.inv_customer[rows]
        issue, due, settled = f.inv_issue[rows], f.inv_due[rows], f.inv_settled[rows]
        amount = units(f.inv_amount[rows]) / UNITS  # as the sums round it
        x: dict[str, Floats] = {}

        # The invoice itself.
        x["terms_days"] = (due - issue).astype(np.float64)
        x["log_amount"] = np.log10(np.maximum(amount, 0.01))
        before = self.issued.at(cust, d, strict=True)  # issued before D: the invoice itself is not
        x["amount_vs_usual"] = _nan_div(amount, _nan_div(before["amount"], before["count"]))
        x["age_days"] = (d - issue).astype(np.float64)
        x["days_past_due"] = (d - due).astype(np.float64)
        paid = self.alloc.at(rows, d)["amount"]
        x["paid_share"] = np.clip(_nan_div(paid, amount), 0.0, 1.0)
        x["paid_share"][np.isnan(x["paid_share"])] = 0.0
        own_opened = self.dsp_open_by_invoice.at(rows, d)
        own_resolved = self.dsp_resolved_by_invoice.at(rows, d)
        own_active_amount = own_opened["amount"] - own_resolved["amount"]
        own_active_count = own_opened["count"] - own_resolved["count"]
        x["disputed_now"] = np.clip(_nan_div(own_active_amount, amount), 0.0, 1.0)
        x["disputed_now"][np.isnan(x["disputed_now"])] = 0.0
        x["disputed_before"] = (own_opened["count"] > 0).astype(np.float64)
        month, weekday, _, _ = _calendar(issue)
        _, due_weekday, due_day, due_month_end = _calendar(due)
        x["issue_month"] = month.astype(np.float64)
        x["issue_weekday"] = weekday.astype(np.float64)
        x["due_weekday"] = due_weekday.astype(np.float64)
        x["due_day"] = due_day.astype(np.float64)
        x["due_to_month_end"] = due_month_end.astype(np.float64)

        # The customer's settlement history up to D.
        start, end = self.hist.positions(cust, 2 * d)
        h = {name: cum[end] - cum[start] for name, cum in self.hist.cums.items()}
        n = (end - start).astype(np.float64)
        x["hist_count"] = n
        mean = _nan_div(h["days"], n)
        x["hist_mean_days"] = mean
        variance = _nan_div(h["days2"], n) - mean * mean
        x["hist_std_days"] = np.where(
            n >= 2, np.sqrt(np.maximum(variance, 0.0) * n / np.maximum(n - 1, 1)), np.nan
        )
        x["hist_mean_late"] = _nan_div(h["late"], n)
        x["hist_late_rate"] = _nan_div(h["is_late"], n)
        x["hist_late30_rate"] = _nan_div(h["is_late30"], n)
        has = end > start
        last = np.where(has, end - 1, 0)
        x["hist_last_days"] = np.where(
            has, self.hist_days_sorted[last] if len(self.hist_days_sorted) else 0, np.nan
        )
        x["hist_last_late"] = np.where(
            has, self.hist_late_sorted[last] if len(self.hist_late_sorted) else 0, np.nan
        )
        days_cum = self.hist.cums["days"]
        recent3 = np.maximum(end - 3, start)
        x["hist_recent_days"] = _nan_div(
            days_cum[end] - days_cum[recent3], (end - recent3).astype(np.float64)
        )
        recent5 = np.maximum(end - 5, start)
        x["hist_trend"] = (
            _nan_div(days_cum[end] - days_cum[recent5], (end - recent5).astype(np.float64)) - mean
        )
        x["hist_trend"][n < 6] = np.nan
        spread = n * h["t2"] - h["t"] * h["t"]
        slope = _nan_div(n * h["t_days"] - h["t"] * h["days"], spread) * 365.25  # days per year
        slope[(n < 4) | (spread <= 0)] = np.nan
        x["hist_slope"] = slope
        undisputed = n - h["disputed"]
        x["hist_days_undisputed"] = _nan_div(h["days"] - h["days_disputed"], undisputed)
        x["hist_days_disputed"] = _nan_div(h["days_disputed"], h["disputed"])
        c_start, c_end = self.clean.positions(cust, 2 * d)
        c_from = np.maximum(c_end - 4, c_start)
        c_days = self.clean.cums["days"]
        x["hist_recent_undisputed"] = _nan_div(
            c_days[c_end] - c_days[c_from], (c_end - c_from).astype(np.float64)
        )
        x["hist_dispute_rate"] = _nan_div(h["disputed"], n)
        last_settled = self.hist_settled_sorted[last] if len(self.hist_settled_sorted) else np.zeros_like(d)
        x["days_since_settlement"] = np.where(has, (d - last_settled).astype(np.float64), np.nan)

        # Exposure on D: the customer's other invoices issued by D and not settled by D.
        open_self = (issue <= d) & (settled > d)
        issued = self.issued.at(cust, d)
        settled_by = self.settled.at(cust, d)
        open_count = issued["count"] - settled_by["count"] - open_self
        open_amount = issued["amount"] - settled_by["amount"] - open_self * amount
        x["open_count"] = open_count
        x["open_amount"] = np.log10(1.0 + np.maximum(open_amount, 0.0))
        overdue: dict[int, dict[str, Floats]] = {}
        for offset, (due_by, settled_after) in self.past.items():
            mine = open_self & (due + offset <= d)
            came, went = due_by.at(cust, d), settled_after.at(cust, d)
            overdue[offset] = {
                "count": came["count"] - went["count"] - mine,
                "amount": came["amount"] - went["amount"] - mine * amount,
            }
        x["overdue_count"] = overdue[1]["count"]
        x["overdue_share"] = np.where(
            open_amount > 0, np.clip(_nan_div(overdue[1]["amount"], open_amount), 0.0, 1.0), 0.0
        )
        x["over30_count"] = overdue[31]["count"]
        x["over90_count"] = overdue[91]["count"]
        limit = np.full(len(cust), np.nan)
        if len(f.limit_customer):
            at = np.minimum(np.searchsorted(f.limit_customer, cust), len(f.limit_customer) - 1)
            found = f.limit_customer[at] == cust
            limit[found] = f.limit_amount[at[found]]
        own_open = np.maximum(amount - paid, 0.0)
        x["credit_use"] = _nan_div(np.maximum(open_amount, 0.0) + own_open, limit)

        # Disputes on the customer's other invoices, and broken promises.
        opened = self.dsp_open_by_customer.at(cust, d)["count"]
        resolved = self.dsp_resolved_by_customer.at(cust, d)["count"]
        x["active_disputes"] = opened - resolved - own_active_count
        year_ago = self.dsp_open_by_customer.at(cust, d - 365)["count"]
        own_year_ago = self.dsp_open_by_invoice.at(rows, d - 365)["count"]
        x["disputes_365"] = (opened - year_ago) - (own_opened["count"] - own_year_ago)
        broken = self.broken.at(cust, d)["count"]
        x["broken_promises"] = broken
        x["broken_promises_180"] = broken - self.broken.at(cust, d - 180)["count"]
        return np.column_stack([x[name] for name in FEATURE_NAMES]) if len(rows) else np.zeros((0, len(x)))


@dataclass(frozen=True)
class Moments:
    """Training moments with their labels. `settle_in` is settled − D (NaN where not known by the training
    date); the three labels are 1.0, 0.0, or NaN where the training date does not yet tell."""

    rows: Ints
    moments: Ints
    is_issue: NDArray[np.bool_]
    settle_in: Floats
    late: Floats
    late30: Floats
    within7: Floats


def training_moments(
    facts: Facts, *, known_through: int, issued_before: int | None = None, sample: int | None = None
) -> Moments:
    """Each invoice issued on or before `known_through` (and before `issued_before`, when given) at its issue
    date, and at every landmark after it (LANDMARKS_FROM_DUE) that it was still open at and that is on or
    before `known_through`. Labels use only what was known on `known_through`: a settlement after it is
    unknown, but an invoice open on `known_through` past its due date is known to be late. With `sample`,
    only that many of the invoices (a seeded draw) give moments."""
    f = facts
    limit = known_through + 1 if issued_before is None else min(issued_before, known_through + 1)
    base = np.flatnonzero(f.inv_issue < limit)
    if sample is not None and len(base) > sample:
        base = np.sort(np.random.default_rng(0).choice(base, size=sample, replace=False))
    rows_parts, moment_parts, issue_parts = [base], [f.inv_issue[base]], [np.ones(len(base), bool)]
    for offset in LANDMARKS_FROM_DUE:
        d = f.inv_due[base] + offset
        keep = (d > f.inv_issue[base]) & (d <= known_through) & (f.inv_settled[base] > d)
        rows_parts.append(base[keep])
        moment_parts.append(d[keep])
        issue_parts.append(np.zeros(int(keep.sum()), bool))
    rows = np.concatenate(rows_parts)
    moments = np.concatenate(moment_parts)
    is_issue = np.concatenate(issue_parts)
    settled, due = f.inv_settled[rows], f.inv_due[rows]
    known = settled <= known_through
    settle_in = np.where(known, (settled - moments).astype(np.float64), np.nan)

    def label(threshold: Ints, positive_if_later: bool = True) -> Floats:
        # 1.0 when settled after `threshold`, decided once settled or once the known-through date passed it.
        out = np.full(len(rows), np.nan)
        decided = known | (known_through > threshold)
        out[decided] = (settled[decided] > threshold[decided]).astype(np.float64)
        return out if positive_if_later else np.where(np.isnan(out), np.nan, 1.0 - out)

    return Moments(
        rows=rows,
        moments=moments,
        is_issue=is_issue,
        settle_in=settle_in,
        late=label(due),
        late30=label(due + 30),
        within7=label(moments + 7, positive_if_later=False),
    )


def ordinal(day: dt.date) -> int:
    return day.toordinal()


def ordinals(days: Sequence[dt.date]) -> Ints:
    return np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))


def from_ordinal(value: int | np.integer) -> dt.date:
    return dt.date.fromordinal(int(value))
