"""The report downloads: /reports/export/aging.csv, /reports/export/kpis.pdf, … (docs/reports.md)."""

from django.urls import path

from recoup.reports.export_views import ExportView

urlpatterns = [
    path("reports/export/<slug:report>.<slug:fmt>", ExportView.as_view(), name="report-export"),
]
