"""/api/v1/: the ledger resources, dunning, disputes and the reports."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.routers import DefaultRouter

from recoup.api.views.activity import (
    ActivityView,
    CallViewSet,
    EmailSendView,
    MessageTemplateViewSet,
    NoteViewSet,
)
from recoup.api.views.activity_tasks import PromiseViewSet, TaskViewSet
from recoup.api.views.allocations import AllocationViewSet, FxRateViewSet
from recoup.api.views.collectors import CollectorActivityView
from recoup.api.views.customers import ContactViewSet, CustomerViewSet
from recoup.api.views.disputes import DisputeMetricsView, DisputeReasonViewSet, DisputeViewSet
from recoup.api.views.documents import CreditNoteViewSet, InvoiceViewSet, PaymentViewSet
from recoup.api.views.dunning import (
    DunningHoldViewSet,
    DunningPolicyViewSet,
    DunningRunViewSet,
    OutboundMessageViewSet,
)
from recoup.api.views.effectiveness import ReminderEffectivenessView
from recoup.api.views.inbound import InboundEmailViewSet
from recoup.api.views.insights import (
    BacktestViewSet,
    CashForecastView,
    CustomerPriorityViewSet,
    InvoicePredictionViewSet,
    NextBestActionViewSet,
    PredictionModelViewSet,
    PriorityWeightsView,
)
from recoup.api.views.reports import AgingReportView, KpiReportView

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("contacts", ContactViewSet, basename="contact")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
router.register("payments", PaymentViewSet, basename="payment")
router.register("allocations", AllocationViewSet, basename="allocation")
router.register("fx-rates", FxRateViewSet, basename="fx-rate")
router.register("dunning-policies", DunningPolicyViewSet, basename="dunning-policy")
router.register("dunning-runs", DunningRunViewSet, basename="dunning-run")
router.register("dunning-messages", OutboundMessageViewSet, basename="dunning-message")
router.register("dunning-holds", DunningHoldViewSet, basename="dunning-hold")
# "api-" keeps these names apart from the web UI's dispute-detail, which emails link to.
router.register("dispute-reasons", DisputeReasonViewSet, basename="api-dispute-reason")
router.register("disputes", DisputeViewSet, basename="api-dispute")
router.register("insights/predictions", InvoicePredictionViewSet, basename="insights-prediction")
router.register("insights/priorities", CustomerPriorityViewSet, basename="insights-priority")
router.register("insights/models", PredictionModelViewSet, basename="insights-model")
router.register("insights/backtests", BacktestViewSet, basename="insights-backtest")
router.register("insights/next-actions", NextBestActionViewSet, basename="insights-next-action")
router.register("inbound-emails", InboundEmailViewSet, basename="api-inbound-email")
router.register("tasks", TaskViewSet, basename="api-task")
router.register("promises", PromiseViewSet, basename="api-promise")
router.register("calls", CallViewSet, basename="api-call")
router.register("notes", NoteViewSet, basename="api-note")
router.register("email-templates", MessageTemplateViewSet, basename="api-email-template")


@extend_schema(exclude=True)
class AgingReportSlashView(AgingReportView):
    """The same report with a trailing slash, like every other resource; documented once, without it."""


@extend_schema(exclude=True)
class KpiReportSlashView(KpiReportView):
    """The same report with a trailing slash; documented once, without it."""


@extend_schema(exclude=True)
class ReminderEffectivenessSlashView(ReminderEffectivenessView):
    """The same report with a trailing slash; documented once, without it."""


@extend_schema(exclude=True)
class CollectorActivitySlashView(CollectorActivityView):
    """The same report with a trailing slash; documented once, without it."""


@extend_schema(exclude=True)
class DisputeMetricsSlashView(DisputeMetricsView):
    """The same figures with a trailing slash; documented once, without it."""


urlpatterns = [
    path("insights/weights/", PriorityWeightsView.as_view(), name="insights-weights"),
    path("insights/forecast/", CashForecastView.as_view(), name="insights-forecast"),
    path("activities/", ActivityView.as_view(), name="api-activities"),
    path("emails/", EmailSendView.as_view(), name="api-emails"),
    path("reports/aging", AgingReportView.as_view(), name="aging-report"),
    path("reports/aging/", AgingReportSlashView.as_view(), name="aging-report-slash"),
    path("reports/kpis", KpiReportView.as_view(), name="kpi-report"),
    path("reports/kpis/", KpiReportSlashView.as_view(), name="kpi-report-slash"),
    path(
        "reports/reminder-effectiveness",
        ReminderEffectivenessView.as_view(),
        name="reminder-effectiveness",
    ),
    path(
        "reports/reminder-effectiveness/",
        ReminderEffectivenessSlashView.as_view(),
        name="reminder-effectiveness-slash",
    ),
    path("reports/collectors", CollectorActivityView.as_view(), name="collector-activity"),
    path("reports/collectors/", CollectorActivitySlashView.as_view(), name="collector-activity-slash"),
    path("reports/disputes", DisputeMetricsView.as_view(), name="dispute-metrics"),
    path("reports/disputes/", DisputeMetricsSlashView.as_view(), name="dispute-metrics-slash"),
    *router.urls,
]
