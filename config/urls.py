from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("recoup.api.urls")),
    path("", include("recoup.users.urls")),
    path("", include("recoup.ledger.urls")),
    path("", include("recoup.dunning.urls")),
    path("", include("recoup.disputes.urls")),
    path("", include("recoup.activity.urls")),
    path("", include("recoup.insights.urls")),
    path("", include("recoup.reports.urls")),
    path("", include("recoup.reports.export_urls")),
]
