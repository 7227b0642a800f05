from django.urls import path

from recoup.reports import views

urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("dashboard/data/aging/", views.AgingData.as_view(), name="dashboard-aging"),
    path("dashboard/data/kpis/", views.KpiData.as_view(), name="dashboard-kpis"),
    path("dashboard/data/collections/", views.CollectionsData.as_view(), name="dashboard-collections"),
    path("dashboard/data/outlook/", views.CashOutlookData.as_view(), name="dashboard-outlook"),
    path("dashboard/data/top-overdue/", views.TopOverdueData.as_view(), name="dashboard-top-overdue"),
    path("dashboard/data/overdue-by-collector/", views.CollectorData.as_view(), name="dashboard-collectors"),
    path("dashboard/data/figures/", views.FigureData.as_view(), name="dashboard-figures"),
    path(
        "dashboard/data/collector-activity/",
        views.CollectorActivityData.as_view(),
        name="dashboard-collector-activity",
    ),
    path(
        "dashboard/collector-activity/",
        views.CollectorActivityPanel.as_view(),
        name="dashboard-collector-activity-panel",
    ),
]
