from django.urls import path

from recoup.disputes import views

urlpatterns = [
    path("disputes/", views.DisputeListView.as_view(), name="dispute-list"),
    path("disputes/reasons/", views.ReasonListView.as_view(), name="dispute-reason-list"),
    path("disputes/reasons/<int:pk>/edit/", views.ReasonEditView.as_view(), name="dispute-reason-edit"),
    path("disputes/invoices/<int:pk>/", views.InvoicePanelView.as_view(), name="dispute-invoice-panel"),
    path("disputes/invoices/<int:pk>/open/", views.DisputeOpenView.as_view(), name="dispute-open"),
    path("disputes/<int:pk>/", views.DisputeDetailView.as_view(), name="dispute-detail"),
    path("disputes/<int:pk>/comments/", views.DisputeCommentView.as_view(), name="dispute-comment"),
    path("disputes/<int:pk>/documents/", views.DisputeAttachView.as_view(), name="dispute-attach"),
    path(
        "disputes/<int:pk>/documents/<int:doc_pk>/",
        views.DisputeDocumentView.as_view(),
        name="dispute-document",
    ),
    path("disputes/<int:pk>/assign/", views.DisputeAssignView.as_view(), name="dispute-assign"),
    path("disputes/<int:pk>/review/", views.DisputeReviewView.as_view(), name="dispute-review"),
    path("disputes/<int:pk>/resolve/", views.DisputeResolveView.as_view(), name="dispute-resolve"),
]
