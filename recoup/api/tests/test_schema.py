"""The OpenAPI schema generates without a warning and is served with its interactive docs."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_errors_or_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    v1 = sorted(path for path in schema["paths"] if path.startswith("/api/v1/"))
    assert v1 == [
        "/api/v1/activities/",
        "/api/v1/allocations/",
        "/api/v1/allocations/{id}/",
        "/api/v1/allocations/{id}/reverse/",
        "/api/v1/calls/",
        "/api/v1/calls/{id}/",
        "/api/v1/contacts/",
        "/api/v1/contacts/{id}/",
        "/api/v1/credit-notes/",
        "/api/v1/credit-notes/{id}/",
        "/api/v1/customers/",
        "/api/v1/customers/{id}/",
        "/api/v1/dispute-reasons/",
        "/api/v1/dispute-reasons/{id}/",
        "/api/v1/disputes/",
        "/api/v1/disputes/{id}/",
        "/api/v1/disputes/{id}/assign/",
        "/api/v1/disputes/{id}/attach/",
        "/api/v1/disputes/{id}/comment/",
        "/api/v1/disputes/{id}/resolve/",
        "/api/v1/disputes/{id}/review/",
        "/api/v1/dunning-holds/",
        "/api/v1/dunning-holds/{id}/",
        "/api/v1/dunning-holds/{id}/release/",
        "/api/v1/dunning-messages/",
        "/api/v1/dunning-messages/{id}/",
        "/api/v1/dunning-messages/{id}/retry/",
        "/api/v1/dunning-policies/",
        "/api/v1/dunning-policies/{id}/",
        "/api/v1/dunning-runs/",
        "/api/v1/dunning-runs/{id}/",
        "/api/v1/email-templates/",
        "/api/v1/email-templates/{id}/",
        "/api/v1/emails/",
        "/api/v1/fx-rates/",
        "/api/v1/fx-rates/{id}/",
        "/api/v1/inbound-emails/",
        "/api/v1/inbound-emails/{id}/",
        "/api/v1/inbound-emails/{id}/assign/",
        "/api/v1/inbound-emails/{id}/attachments/{attachment_pk}/",
        "/api/v1/inbound-emails/{id}/ignore/",
        "/api/v1/insights/backtests/",
        "/api/v1/insights/backtests/{id}/",
        "/api/v1/insights/forecast/",
        "/api/v1/insights/models/",
        "/api/v1/insights/models/{version}/",
        "/api/v1/insights/next-actions/",
        "/api/v1/insights/next-actions/{customer_id}/",
        "/api/v1/insights/predictions/",
        "/api/v1/insights/predictions/{id}/",
        "/api/v1/insights/priorities/",
        "/api/v1/insights/priorities/{customer_id}/",
        "/api/v1/insights/weights/",
        "/api/v1/invoices/",
        "/api/v1/invoices/bulk/",
        "/api/v1/invoices/{id}/",
        "/api/v1/invoices/{id}/dunning/",
        "/api/v1/notes/",
        "/api/v1/notes/{id}/",
        "/api/v1/payments/",
        "/api/v1/payments/bulk/",
        "/api/v1/payments/{id}/",
        "/api/v1/promises/",
        "/api/v1/promises/kept-rate/",
        "/api/v1/promises/{id}/",
        "/api/v1/promises/{id}/cancel/",
        "/api/v1/reports/aging",
        "/api/v1/reports/collectors",
        "/api/v1/reports/disputes",
        "/api/v1/reports/kpis",
        "/api/v1/reports/reminder-effectiveness",
        "/api/v1/tasks/",
        "/api/v1/tasks/bulk/",
        "/api/v1/tasks/{id}/",
        "/api/v1/tasks/{id}/complete/",
        "/api/v1/tasks/{id}/reassign/",
        "/api/v1/tasks/{id}/snooze/",
    ]
    # Ledger documents offer no delete, and allocations no edit either; an invoice's PATCH takes only its
    # dunning policy.
    methods = {path: set(operations) - {"parameters"} for path, operations in schema["paths"].items()}
    assert methods["/api/v1/invoices/{id}/"] == {"get", "patch"}
    assert methods["/api/v1/allocations/{id}/"] == {"get"}
    assert methods["/api/v1/customers/{id}/"] == {"get", "put", "patch"}
    assert methods["/api/v1/dunning-policies/"] == {"get", "post"}
    assert methods["/api/v1/dunning-policies/{id}/"] == {"get", "put", "delete"}
    assert methods["/api/v1/dunning-runs/"] == {"get", "post"}
    assert methods["/api/v1/dunning-runs/{id}/"] == {"get"}
    assert methods["/api/v1/dunning-messages/{id}/"] == {"get"}
    assert methods["/api/v1/dunning-holds/{id}/"] == {"get"}
    assert methods["/api/v1/activities/"] == {"get"} and methods["/api/v1/emails/"] == {"post"}
    assert methods["/api/v1/calls/"] == methods["/api/v1/notes/"] == {"get", "post"}
    assert methods["/api/v1/calls/{id}/"] == methods["/api/v1/notes/{id}/"] == {"get"}
    patch = schema["paths"]["/api/v1/invoices/{id}/"]["patch"]["requestBody"]["content"]["application/json"]
    assert patch["schema"]["$ref"].endswith("/PatchedInvoicePolicyRequest")
    assert set(schema["components"]["schemas"]["PatchedInvoicePolicyRequest"]["properties"]) == {
        "dunning_policy"
    }


def test_schema_and_docs_are_served(reader):
    schema = reader.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/reports/aging" in schema.content
    docs = reader.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
