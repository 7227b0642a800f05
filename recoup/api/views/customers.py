"""Customers and contacts."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins

from recoup.api.filters import ContactFilter, CustomerFilter
from recoup.api.serializers.customers import ContactSerializer, CustomerSerializer
from recoup.api.views.base import LedgerViewSet
from recoup.ledger.models import Contact, Customer


class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    LedgerViewSet,
):
    """Customers (accounts). `search` matches name or external id. No DELETE: a customer keeps its ledger."""

    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ["name", "external_id"]
    ordering_fields = ["name", "external_id", "created_at", "payment_terms_days", "id"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Customer]:
        return Customer.objects.select_related("collector", "dunning_policy").prefetch_related("contacts")


class ContactViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, LedgerViewSet
):
    """Customer contacts: AP email addresses and phone numbers. A contact needs an email or a phone."""

    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    search_fields = ["name", "email", "phone"]
    ordering_fields = ["name", "email", "created_at", "id"]
    ordering = ["customer_id", "id"]

    def get_queryset(self) -> QuerySet[Contact]:
        return Contact.objects.select_related("customer")
