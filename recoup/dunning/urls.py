from django.urls import path
from django.views.generic import RedirectView

from recoup.dunning import views
from recoup.dunning.views import email_templates

urlpatterns = [
    path("dunning/", RedirectView.as_view(pattern_name="dunning-policy-list"), name="dunning"),
    path("dunning/policies/", views.PolicyListView.as_view(), name="dunning-policy-list"),
    path("dunning/policies/<int:pk>/", views.PolicyDetailView.as_view(), name="dunning-policy-detail"),
    path("dunning/policies/<int:pk>/policy.yaml", views.PolicyYamlView.as_view(), name="dunning-policy-yaml"),
    path("dunning/levels/<int:pk>/edit/", views.LevelEditView.as_view(), name="dunning-level-edit"),
    path(
        "dunning/levels/<int:pk>/templates/",
        views.TemplateCreateView.as_view(),
        name="dunning-template-create",
    ),
    path(
        "dunning/levels/<int:pk>/templates/<str:language>/",
        views.TemplateEditView.as_view(),
        name="dunning-template-edit",
    ),
    path("dunning/levels/<int:pk>/preview/", views.LevelPreviewView.as_view(), name="dunning-level-preview"),
    path(
        "dunning/levels/<int:pk>/preview.pdf",
        views.LevelPreviewPdfView.as_view(),
        name="dunning-level-preview-pdf",
    ),
    path("dunning/runs/", views.RunListView.as_view(), name="dunning-run-list"),
    path("dunning/runs/<int:pk>/", views.RunDetailView.as_view(), name="dunning-run-detail"),
    path("dunning/outbox/", views.OutboxView.as_view(), name="dunning-outbox"),
    path("dunning/outbox/<int:pk>/", views.MessageDetailView.as_view(), name="dunning-message-detail"),
    path("dunning/outbox/<int:pk>/retry/", views.MessageRetryView.as_view(), name="dunning-message-retry"),
    path(
        "dunning/outbox/<int:pk>/document.pdf",
        views.MessageDocumentView.as_view(),
        name="dunning-message-document",
    ),
    path("dunning/invoices/<int:pk>/", views.InvoicePanelView.as_view(), name="dunning-invoice-panel"),
    path(
        "dunning/invoices/<int:pk>/holds/", views.InvoiceHoldCreateView.as_view(), name="dunning-invoice-hold"
    ),
    path("dunning/customers/<int:pk>/", views.CustomerPanelView.as_view(), name="dunning-customer-panel"),
    path(
        "dunning/customers/<int:pk>/holds/",
        views.CustomerHoldCreateView.as_view(),
        name="dunning-customer-hold",
    ),
    path("dunning/holds/<int:pk>/release/", views.HoldReleaseView.as_view(), name="dunning-hold-release"),
    path(
        "settings/email-templates/",
        email_templates.MessageTemplateListView.as_view(),
        name="dunning-email-templates",
    ),
    path(
        "settings/email-templates/<int:pk>/",
        email_templates.MessageTemplateEditView.as_view(),
        name="dunning-email-template-edit",
    ),
]
