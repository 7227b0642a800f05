"""The forms of the timeline panel: a call (with a promise made on it), a note, an email from a template,
and the filters. They check the shape of the input for one customer; the rules are the services', whose
DomainError lands on the field it names."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.db.models import QuerySet

from recoup.activity.models import CallOutcome, PromiseChannel, Task, TaskStatus
from recoup.activity.timeline import KIND_GROUP_LABELS
from recoup.core.errors import DomainError
from recoup.dunning.models import MessageTemplate
from recoup.ledger.models import Contact, Customer, Invoice
from recoup.users.models import COLLECT_ROLES, WRITE_ROLES

MAX_CHOICES = 100  # open invoices offered in a form, oldest due first
_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def open_invoices(customer: Customer) -> QuerySet[Invoice]:
    return Invoice.objects.filter(customer=customer, open_amount__gt=0).order_by("due_date", "id")[
        :MAX_CHOICES
    ]


class InvoiceChoices(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.external_id} (due {obj.due_date:%Y-%m-%d})"


class CustomerForm(forms.Form):
    """A form about one customer: the invoices it offers are that customer's open ones."""

    # service field → form field, where they differ
    ALIASES: dict[str, str] = {}

    prefix_name = "form"
    roles: frozenset[str] = frozenset()  # who may open and submit it

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.prefix_name}_%s")
        super().__init__(*args, **kwargs)
        self.customer = customer
        offered = Invoice.objects.filter(pk__in=open_invoices(customer).values("pk")).order_by(
            "due_date", "id"
        )
        for field in self.fields.values():
            if isinstance(field, InvoiceChoices):
                field.queryset = offered

    def add_domain_error(self, error: DomainError) -> None:
        field = self.ALIASES.get(error.field or "", error.field)
        self.add_error(field if field in self.fields else None, error.message)


class CallForm(CustomerForm):
    prefix_name = "call"
    roles = COLLECT_ROLES
    ALIASES = {
        "amount": "promise_amount",
        "promise": "promise_amount",
        "duration_seconds": "duration_minutes",
    }

    outcome = forms.ChoiceField(
        choices=CallOutcome.choices, widget=forms.RadioSelect, initial=CallOutcome.REACHED
    )
    duration_minutes = forms.IntegerField(
        required=False, min_value=0, max_value=24 * 60, label="Duration (minutes)", initial=0
    )
    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), required=False, empty_label="—")
    invoices = InvoiceChoices(queryset=Invoice.objects.none(), required=False, label="Invoices discussed")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000)
    task = forms.ModelChoiceField(
        queryset=Task.objects.none(), required=False, empty_label="—", label="Completes the task"
    )
    promise_amount = forms.DecimalField(
        required=False, min_value=0, max_digits=18, decimal_places=4, label="Promised amount"
    )
    promise_date = forms.DateField(required=False, widget=_DATE, label="Promised by")
    promise_invoices = InvoiceChoices(
        queryset=Invoice.objects.none(),
        required=False,
        label="The promise covers",
        help_text="None ticked: the invoices discussed; none discussed either: the whole account.",
    )
    promise_channel = forms.ChoiceField(
        choices=PromiseChannel.choices, initial=PromiseChannel.CALL, required=False, label="Made by"
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, customer=customer, **kwargs)
        contact = self.fields["contact"]
        assert isinstance(contact, forms.ModelChoiceField)
        contact.queryset = Contact.objects.filter(customer=customer).order_by("id")
        task = self.fields["task"]
        assert isinstance(task, forms.ModelChoiceField)
        task.queryset = Task.objects.filter(customer=customer, status=TaskStatus.OPEN).order_by(
            "due_date", "id"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount, day = data.get("promise_amount"), data.get("promise_date")
        if amount is not None and day is None:
            self.add_error("promise_date", "Say by when the customer promised to pay.")
        if day is not None and amount is None:
            self.add_error("promise_amount", "Say how much the customer promised to pay.")
        return data

    @property
    def has_promise(self) -> bool:
        return self.cleaned_data.get("promise_amount") is not None


class NoteForm(CustomerForm):
    prefix_name = "note"
    roles = WRITE_ROLES

    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10_000,
        label="Note",
        help_text="Mention a colleague with @username: they are told by email.",
    )
    invoices = InvoiceChoices(queryset=Invoice.objects.none(), required=False, label="About the invoices")


class EmailForm(CustomerForm):
    prefix_name = "email"
    roles = COLLECT_ROLES

    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none(), empty_label=None)
    contact = forms.ModelChoiceField(
        queryset=Contact.objects.none(), required=False, empty_label="Every AP contact", label="To"
    )
    invoices = InvoiceChoices(queryset=Invoice.objects.none(), required=False, label="Invoices it lists")
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("request_key", uuid.uuid4().hex)
        super().__init__(*args, customer=customer, **kwargs)
        template = self.fields["template"]
        assert isinstance(template, forms.ModelChoiceField)
        template.queryset = MessageTemplate.objects.filter(is_active=True).order_by("name", "language")
        contact = self.fields["contact"]
        assert isinstance(contact, forms.ModelChoiceField)
        contact.queryset = Contact.objects.filter(customer=customer).exclude(email="").order_by("id")


class TimelineFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "Everything"), *KIND_GROUP_LABELS.items()])
    invoice = forms.ModelChoiceField(
        queryset=Invoice.objects.none(), required=False, empty_label="Every invoice"
    )
    before = forms.CharField(required=False, widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_timeline_%s")
        super().__init__(*args, **kwargs)
        invoice = self.fields["invoice"]
        assert isinstance(invoice, forms.ModelChoiceField)
        invoice.queryset = Invoice.objects.filter(customer=customer)  # any of its invoices may be asked for
        self.offered = list(open_invoices(customer))
        room = MAX_CHOICES - len(self.offered)
        if room > 0:  # then the ones settled most recently, which the timeline is often about
            settled = Invoice.objects.filter(customer=customer, open_amount=0).order_by("-closed_on", "-id")
            self.offered += list(settled[:room])

    def invoice_options(self) -> list[tuple[str, str]]:
        """The open invoices, the latest settled ones, and the one asked for when it is neither."""
        chosen = self.cleaned_data.get("invoice") if self.is_bound and self.is_valid() else None
        offered = list(self.offered)
        if chosen is not None and chosen not in offered:
            offered.insert(0, chosen)
        return [(str(i.pk), i.external_id + ("" if i.is_open else " (settled)")) for i in offered]
