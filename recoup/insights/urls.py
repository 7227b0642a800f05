from django.urls import path

from recoup.insights import views

urlpatterns = [
    path("insights/customers/<int:pk>/", views.CustomerPanelView.as_view(), name="insights-customer-panel"),
    path("settings/priority-weights/", views.WeightsView.as_view(), name="insights-weights"),
]
