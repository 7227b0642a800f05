"""The dashboard in a real Chromium: every chart is drawn from its JSON endpoint with the ledger's figures,
a filter redraws them with the new ones (and pushes its URL), and a click on a bar opens the customers or
invoices behind it. Screenshots land in test-artifacts/ (docs/screenshots/ keeps copies of the best).

The live server runs on the real clock, so the ledger is dated relative to today. The invoices still open
today are few and hand-checked below; a year of paid invoices behind them fills the trends, whose expected
values come from aging_report and selectors.kpis for each day, the functions test_dashboard checks by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recoup.activity import services as activity
from recoup.activity.models import Promise, PromiseStatus
from recoup.disputes import defaults as dispute_defaults
from recoup.disputes import services as disputes
from recoup.ledger import services as ledger
from recoup.ledger.aging import aging_report
from recoup.ledger.models import Customer, Invoice
from recoup.ledger.services import Application
from recoup.reports import dashboard, selectors
from recoup.reports.scope import Scope
from recoup.users.models import Role, Team, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Open today, by customer: (days past due today, amount). EUR→USD is 1.10 throughout.
OPEN = {
    "ACME": [(10, "1200.00"), (-15, "2500.00"), (45, "800.00")],
    "GLOBEX": [(75, "1500.00"), (-5, "900.00")],
    "INITECH": [(100, "650.00"), (20, "400.00")],
    "UMBRELLA": [(35, "2000.00")],  # EUR: 2,200.00 USD
    "STARK": [(150, "1100.00"), (-20, "3000.00")],
    "WAYNE": [(5, "700.00")],
    "HOOLI": [(60, "300.00")],
}
# Today's aging, bucket by bucket (current, 1-30, 31-60, 61-90, 91-120, 120+):
#   current: Acme 2,500 + Globex 900 + Stark 3,000            = 6,400
#   1-30:    Acme 1,200 (10 days) + Initech 400 (20) + Wayne 700 (5) = 2,300
#   31-60:   Acme 800 (45) + Umbrella 2,000 × 1.10 (35) + Hooli 300 (60) = 3,300
#   61-90:   Globex 1,500 (75); 91-120: Initech 650 (100); 120+: Stark 1,100 (150)
TODAY_BUCKETS = ["6400.00", "2300.00", "3300.00", "1500.00", "650.00", "1100.00"]
# Cara collects Acme and Globex: 2,500 + 900 current; 1,200; 800; 1,500.
CARA_BUCKETS = ["3400.00", "1200.00", "800.00", "1500.00", "0.00", "0.00"]
# Overdue by collector: Cara 1,200 + 800 + 1,500; Dave (Initech, Umbrella) 650 + 400 + 2,200;
# Erin (Stark, Wayne) 1,100 + 700; nobody (Hooli) 300.
COLLECTORS = (
    ["Cara Cole", "Dave Diaz", "Erin Eze", "No collector"],
    ["3500.00", "3250.00", "1800.00", "300.00"],
)


def days(today: dt.date, n: int) -> dt.date:
    return today + dt.timedelta(days=n)


@pytest.fixture
def books() -> dict[str, Any]:
    today = timezone.localdate()
    dispute_defaults.install_reasons()  # the flush of a transactional test removed the migration's reasons
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    User.objects.create_user(username="mia", password="pw-mia-manager", role=Role.MANAGER, first_name="Mia")

    def collector(username: str, first: str, last: str, team: Team) -> User:
        return User.objects.create_user(
            username=username, password=f"pw-{username}", role=Role.COLLECTOR, team=team,
            first_name=first, last_name=last,
        )  # fmt: skip

    cara = collector("cara", "Cara", "Cole", north)
    dave = collector("dave", "Dave", "Diaz", north)
    erin = collector("erin", "Erin", "Eze", south)
    ledger.fx_rate_set(actor=None, currency="EUR", date=days(today, -400), rate=Decimal("1.10"))
    people = {
        "ACME": ("Acme Corp", cara, "Enterprise", "USD"),
        "GLOBEX": ("Globex Industries", cara, "Enterprise", "USD"),
        "INITECH": ("Initech", dave, "Retail", "USD"),
        "UMBRELLA": ("Umbrella Europe", dave, "Retail", "EUR"),
        "STARK": ("Stark Public Works", erin, "Public sector", "USD"),
        "WAYNE": ("Wayne Enterprises", erin, "Enterprise", "USD"),
        "HOOLI": ("Hooli", None, "Retail", "USD"),
    }
    customers = {}
    for n, (external_id, (name, who, segment, currency)) in enumerate(people.items()):
        customer = ledger.customer_create(
            actor=None, external_id=external_id, name=name, currency=currency, collector=who, segment=segment
        )
        customers[external_id] = customer
        for k, (past_due, amount) in enumerate(OPEN[external_id]):
            due = days(today, -past_due)
            ledger.invoice_create(
                actor=None, customer=customer, external_id=f"{external_id}-OPEN-{k}",
                issue_date=days(due, -30), due_date=due, amount=Decimal(amount),
            )  # fmt: skip
        # A year of invoices paid since, some late: the trends behind today's figures.
        for month in range(1, 12):
            issued = days(today, -30 * month - 5 * n - 8)
            amount = Decimal(400 + (137 * month * (n + 2)) % 1100)
            invoice = ledger.invoice_create(
                actor=None, customer=customer, external_id=f"{external_id}-{month:02d}",
                issue_date=issued, due_date=days(issued, 30), amount=amount,
            )  # fmt: skip
            paid = min(days(issued, (24, 38, 55, 71)[(month + n) % 4]), days(today, -1))
            ledger.payment_create(
                actor=None, customer=customer, external_id=f"PAY-{external_id}-{month:02d}", date=paid,
                amount=amount, apply_to=[Application(invoice, amount)],
            )  # fmt: skip
    for external_id, amount, when in (
        ("ACME", "1200.00", 3),
        ("INITECH", "400.00", -2),
        ("STARK", "500.00", -20),
    ):
        activity.promise_create(
            actor=None, customer=customers[external_id], amount=amount, promised_date=days(today, when)
        )
    # No service evaluates promises yet: Stark's is set kept, as that one would.
    Promise.objects.filter(customer=customers["STARK"]).update(status=PromiseStatus.KEPT)
    disputes.dispute_open(
        actor=None,
        invoice=Invoice.objects.get(external_id="UMBRELLA-OPEN-0"),
        reason="pricing",
        amount="500.00",
        opened_on=days(today, -12),
    )
    return {"today": today, "cara": cara, "dave": dave, "north": north}


def chart_data(page: Page, canvas: str) -> list[list[Any]]:
    """What Chart.js holds for the canvas: each dataset's data."""
    return page.evaluate(
        "(id) => Chart.getChart(document.getElementById(id)).data.datasets.map((d) => d.data)", canvas
    )


def chart_labels(page: Page, canvas: str) -> list[str]:
    return page.evaluate("(id) => Chart.getChart(document.getElementById(id)).data.labels", canvas)


def wait_drawn(page: Page) -> None:
    for canvas in ("chart-aging", "chart-kpis", "chart-collections", "chart-collectors"):
        expect(page.locator(f"#{canvas}")).to_have_attribute("data-state", "drawn")


def click_bar(page: Page, canvas: str, dataset: int, index: int) -> None:
    """A real mouse click on the centre of one bar (or segment) of a chart."""
    x, y = page.evaluate(
        """([id, dataset, index]) => {
            const chart = Chart.getChart(document.getElementById(id));
            chart.canvas.scrollIntoView({block: "center"});
            const bar = chart.getDatasetMeta(dataset).data[index];
            const box = chart.canvas.getBoundingClientRect();
            const p = bar.getCenterPoint();
            return [box.left + p.x, box.top + p.y];
        }""",
        [canvas, dataset, index],
    )
    page.mouse.click(x, y)


def expected_aging(today: dt.date, scope: Scope) -> list[list[str]]:
    """Each bucket's series, from aging_report as of each of the 12 month-ends and today."""
    ids = scope.customer_ids()
    reports = [
        aging_report(as_of=day, by="total", customer_ids=ids) for day in dashboard.month_ends(12, today)
    ]
    reports.append(aging_report(as_of=today, by="total", customer_ids=ids))
    return [[str(r.total.buckets[i]) for r in reports] for i in range(6)]


def expected_kpis(today: dt.date, scope: Scope) -> list[list[float | None]]:
    """DSO, BPDSO and CEI of each of the last 12 calendar months, from selectors.kpis for that month."""
    ends = dashboard.month_ends(12, today)
    reports = [
        selectors.kpis(start=end.replace(day=1), end=end, customer_ids=scope.customer_ids()).as_dict()
        for end in ends
    ]
    return [[r[key] for r in reports] for key in ("dso", "bpdso", "cei")]


def test_the_dashboard_draws_its_charts_a_filter_redraws_them_and_a_bar_opens_its_customers(
    page, live_server, books, shot, log_in
):
    base, today = live_server.url, books["today"]
    log_in(base, then="/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    wait_drawn(page)

    # Aging: 12 month-ends, then today, stacked by bucket.
    aging = chart_data(page, "chart-aging")
    assert [series[-1] for series in aging] == TODAY_BUCKETS
    assert aging == expected_aging(today, Scope())
    assert chart_labels(page, "chart-aging")[-1] == "Today"
    assert any(value != "0.00" for series in aging for value in series[:-1])  # the year behind is not empty
    # DSO, BPDSO, CEI by month, as selectors.kpis gives each month.
    assert chart_data(page, "chart-kpis") == expected_kpis(today, Scope())
    assert chart_labels(page, "chart-collectors") == COLLECTORS[0]
    assert chart_data(page, "chart-collectors") == [COLLECTORS[1]]
    collected = chart_data(page, "chart-collections")[0]
    assert len(collected) == 13 and sum(Decimal(v) for v in collected) > 0
    expect(page.locator("#figure-open-ar .stat-value")).to_have_text("15,250.00 USD")
    expect(page.locator("#figure-overdue .stat-value")).to_have_text("8,850.00 USD")
    # Umbrella 2,000 EUR × 1.10, Acme 1,200 + 800, Globex 1,500, Stark 1,100, Initech 650 + 400, Wayne, Hooli.
    expect(page.locator("#top-overdue tbody tr td:first-child a")).to_have_text(
        [
            "Umbrella Europe",
            "Acme Corp",
            "Globex Industries",
            "Stark Public Works",
            "Initech",
            "Wayne Enterprises",
            "Hooli",
        ]
    )
    page.locator("#how-kpis summary").click()
    expect(page.locator("#how-kpis")).to_contain_text("CEI is not divided by the number of months.")
    shot("dashboard-01-everything")

    # Cara's customers only: the charts redraw with their figures; the URL says so.
    page.locator("#dashboard-filters").get_by_label("Collector").select_option(label="Cara Cole")
    expect(page).to_have_url(f"{base}/dashboard/?collector={books['cara'].pk}")
    expect(page.locator("#figure-open-ar .stat-value")).to_have_text(
        "6,900.00 USD"
    )  # Acme 4,500 + Globex 2,400
    wait_drawn(page)
    aging = chart_data(page, "chart-aging")
    assert [series[-1] for series in aging] == CARA_BUCKETS
    assert aging == expected_aging(today, Scope(collector_id=books["cara"].pk))
    assert chart_data(page, "chart-kpis") == expected_kpis(today, Scope(collector_id=books["cara"].pk))
    assert chart_labels(page, "chart-collectors") == ["Cara Cole"]
    assert chart_data(page, "chart-collectors") == [["3500.00"]]
    expect(page.locator("#top-overdue tbody tr td:first-child a")).to_have_text(
        ["Acme Corp", "Globex Industries"]
    )
    expect(page.locator("#disputes-filtered")).to_be_visible()

    # Monthly collections keep the filter.
    page.locator("#panel-collections").get_by_role("link", name="Monthly").click()
    expect(page).to_have_url(f"{base}/dashboard/?collector={books['cara'].pk}&by=month")
    wait_drawn(page)
    assert len(chart_data(page, "chart-collections")[0]) == 12
    page.locator("#dashboard-filters").get_by_label("Segment").select_option(
        "Enterprise"
    )  # the filter keeps the monthly view
    expect(page).to_have_url(f"{base}/dashboard/?collector={books['cara'].pk}&segment=Enterprise&by=month")
    wait_drawn(page)
    assert [series[-1] for series in chart_data(page, "chart-aging")] == CARA_BUCKETS
    shot("dashboard-02-filtered")

    # Back to everything, then a click on Dave's bar: his overdue customers, most overdue first.
    page.get_by_role("link", name="Reset").click()
    wait_drawn(page)
    assert chart_data(page, "chart-collectors") == [COLLECTORS[1]]
    click_bar(page, "chart-collectors", 0, 1)
    expect(page).to_have_url(f"{base}/customers/?collector={books['dave'].pk}&overdue=on&sort=-overdue")
    # Umbrella owes 2,000.00 EUR, Initech 1,050.00 USD, each in its own currency.
    expect(page.locator("#customers tbody tr td:nth-child(2)")).to_have_text(["Umbrella Europe", "Initech"])
    expect(page.locator("#filter-chips")).to_contain_text("Collector Dave Diaz")
    shot("dashboard-03-drill-down-customers")

    # And today's 31–60 segment of the aging: the three invoices in that bucket.
    page.go_back()
    wait_drawn(page)
    click_bar(page, "chart-aging", 2, 12)
    expect(page).to_have_url(f"{base}/invoices/?band=31-60")
    expect(page.locator("#invoices tbody tr td:first-child")).to_have_text(
        ["HOOLI-OPEN-0", "ACME-OPEN-2", "UMBRELLA-OPEN-0"]
    )


def test_a_past_month_end_opens_the_invoices_open_then(page, live_server, books, log_in, shot):
    base, today = live_server.url, books["today"]
    log_in(base, then="/dashboard/")
    wait_drawn(page)
    aging = chart_data(page, "chart-aging")
    # The latest month-end with something 1–30 days past due.
    index = max(i for i, value in enumerate(aging[1][:-1]) if value != "0.00")
    month_end = dashboard.month_ends(12, today)[index]
    click_bar(page, "chart-aging", 1, index)
    expect(page).to_have_url(f"{base}/invoices/?as_of={month_end.isoformat()}&band=1-30")
    expect(page.locator("#invoices thead")).to_contain_text(f"Open on {month_end.isoformat()}")
    shown = page.locator("#invoices tbody tr td:nth-child(7)").all_inner_texts()
    assert sum(Decimal(text.split()[0].replace(",", "")) for text in shown) == Decimal(aging[1][index])
    expect(page.get_by_label("Days past due")).to_have_value("1-30")
    expect(page.get_by_label("Open on")).to_have_value(month_end.isoformat())
    shot("dashboard-04-drill-down-invoices-at-a-month-end")
    assert Customer.objects.filter(currency="EUR").count() == 1


def test_a_panels_download_is_its_report_for_the_filter(page, live_server, books, log_in):
    base, today = live_server.url, books["today"]
    log_in(base, then=f"/dashboard/?collector={books['cara'].pk}")
    wait_drawn(page)

    with page.expect_download() as aging:
        page.locator("#downloads-aging").get_by_role("link", name="CSV").click()
    expect(page.locator("#downloads-collector-activity")).to_be_visible()  # the table htmx loads
    with page.expect_download() as activity:
        page.locator("#downloads-collector-activity").get_by_role("link", name="XLSX").click()

    assert aging.value.suggested_filename == f"aging-{today.isoformat()}-by-customer.csv"
    lines = Path(aging.value.path()).read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["Customer", "ACME", "GLOBEX", "TOTAL"]  # Cara's
    month = today.replace(day=1).isoformat()
    assert activity.value.suggested_filename == f"collectors-{month}-to-{today.isoformat()}.xlsx"
    assert Path(activity.value.path()).read_bytes()[:2] == b"PK"  # a workbook (a zip), not an error page
