"""Django admin for admins. Ledger facts are read-only here: they change only through services,
which keep the open amounts and the audit trail true."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from recoup.ledger.models import Allocation, Contact, CreditNote, Customer, FxRate, Invoice, Payment


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "currency", "collector", "on_hold", "do_not_dun"]
    list_filter = ["currency", "segment", "on_hold", "do_not_dun", "collector"]
    search_fields = ["external_id", "name"]
    inlines = [ContactInline]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "customer", "issue_date", "due_date", "amount", "open_amount", "currency"]
    list_filter = ["currency"]
    search_fields = ["external_id", "customer__external_id"]
    list_select_related = ["customer"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "customer", "date", "amount", "unapplied_amount", "currency"]
    search_fields = ["external_id", "customer__external_id", "reference"]
    list_select_related = ["customer"]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "customer", "date", "amount", "unapplied_amount", "currency"]
    search_fields = ["external_id", "customer__external_id"]
    list_select_related = ["customer"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["id", "invoice", "kind", "amount", "currency", "date", "reverses"]
    list_filter = ["kind"]
    search_fields = ["invoice__external_id"]
    list_select_related = ["invoice"]


@admin.register(FxRate)
class FxRateAdmin(ReadOnlyAdmin):
    list_display = ["currency", "date", "rate"]
    list_filter = ["currency"]
