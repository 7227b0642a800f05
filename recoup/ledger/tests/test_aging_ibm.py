"""Aging of the IBM AR sample, loaded the way load.sh loads it, against an independent calculation.

The independent side reads the CSV with the csv module alone: an invoice is open on D when it was issued on
or before D and settled after D, and its bucket follows from D - DueDate. Nothing of Recoup's is used there.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from recoup.ledger.aging import aging_report, report_as_csv

REPO = Path(__file__).resolve().parents[3]
IBM_CSV = REPO.parent / "shared" / "data" / "ibm_ar" / "WA_Fn-UseC_-Accounts-Receivable.csv"
MAPPINGS = REPO / "docs" / "examples" / "ibm_ar"
DATES = [
    dt.date(2012, 1, 2),
    dt.date(2012, 3, 31),
    dt.date(2012, 9, 14),
    dt.date(2012, 12, 31),
    dt.date(2013, 4, 30),
    dt.date(2013, 8, 1),
    dt.date(2013, 12, 31),
    dt.date(2014, 6, 30),
]


@pytest.fixture
def ibm_csv() -> Path:
    if not IBM_CSV.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the IBM sample must exist under CI: {IBM_CSV}")
        pytest.skip("no ../shared/data/ibm_ar beside the repository")
    return IBM_CSV


def _mdy(text: str) -> dt.date:
    month, day, year = (int(part) for part in text.split("/"))
    return dt.date(year, month, day)


def independent_aging_csv(
    path: Path, as_of: dt.date, *, basis: str = "DueDate", bounds: tuple[int, ...] = (30, 60, 90, 120)
) -> str:
    labels = ["current"]
    low = 1
    for bound in bounds:
        labels.append(f"{low}-{bound}")
        low = bound + 1
    labels.append(f"{bounds[-1]}+")
    per_customer: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal("0.00")] * len(labels))
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            issued, settled = _mdy(row["InvoiceDate"]), _mdy(row["SettledDate"])
            if not issued <= as_of < settled:
                continue
            days = (as_of - _mdy(row[basis])).days
            index = (
                0 if days <= 0 else next((i + 1 for i, b in enumerate(bounds) if days <= b), len(bounds) + 1)
            )
            per_customer[row["customerID"]][index] += Decimal(row["InvoiceAmount"])
    lines = [",".join(["customer", *labels, "total"])]
    totals = [Decimal("0.00")] * len(labels)
    for customer in sorted(per_customer):
        values = per_customer[customer]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        lines.append(",".join([customer, *map(str, values), str(sum(values))]))
    lines.append(",".join(["TOTAL", *map(str, totals), str(sum(totals, Decimal("0.00")))]))
    return "\n".join(lines) + "\n"


def recoup_aging_csv(as_of: dt.date, **options: object) -> str:
    out = io.StringIO()
    report_as_csv(aging_report(as_of=as_of, **options), out)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.django_db
def test_ibm_aging_matches_an_independent_calculation_at_every_date(ibm_csv):
    for kind in ("customers", "invoices", "payments"):
        call_command(
            "import",
            kind,
            str(ibm_csv),
            "--mapping",
            str(MAPPINGS / f"{kind}.toml"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    open_counts = []
    for as_of in DATES:
        expected = independent_aging_csv(ibm_csv, as_of)
        assert recoup_aging_csv(as_of) == expected, as_of
        open_counts.append(len(expected.splitlines()) - 2)
    # The dates cover an empty ledger, a busy one and a fully settled one.
    assert open_counts[0] == 0 and max(open_counts) >= 50 and open_counts[-1] == 0
    as_of = dt.date(2013, 5, 20)
    assert recoup_aging_csv(as_of, basis="invoice", buckets=(15, 45)) == independent_aging_csv(
        ibm_csv, as_of, basis="InvoiceDate", bounds=(15, 45)
    )


def test_load_sh_then_the_aging_command_match_the_independent_calculation(ibm_csv, tmp_path):
    """The README's path end to end: load.sh into a fresh SQLite file, then `recoup aging --format csv`."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ibm.sqlite3'}",
        "RECOUP_INSECURE_DEFAULTS": "1",
        "IBM_AR_CSV": str(ibm_csv),
        "RECOUP": str(Path(sys.executable).with_name("recoup")),
    }
    subprocess.run([env["RECOUP"], "migrate", "-v0"], env=env, check=True)
    subprocess.run(["bash", str(MAPPINGS / "load.sh")], env=env, check=True, capture_output=True)
    as_of = dt.date(2013, 6, 30)
    result = subprocess.run(
        [env["RECOUP"], "aging", "--as-of", as_of.isoformat(), "--format", "csv"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout == independent_aging_csv(ibm_csv, as_of)
