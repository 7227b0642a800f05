"""Dunning pages: policies and their templates, previews, runs, the outbox, and the panels the customer and
invoice pages load (dunning status, holds, timeline, tasks).

Reads go through the selectors; writes through the services, whose refusals (DomainError) show on the form
field they name. Every page reads for every role; policies, runs and retries need MANAGE_ROLES, and holds
WRITE_ROLES. The panels are fetched by htmx once their page has loaded, so the ledger pages keep their own
small query budget; without JavaScript each panel opens as a page of its own.
"""

from __future__ import annotations

from recoup.dunning.views.outbox import (
    MessageDetailView,
    MessageDocumentView,
    MessageRetryView,
    OutboxView,
)
from recoup.dunning.views.panels import (
    CustomerHoldCreateView,
    CustomerPanelView,
    HoldReleaseView,
    InvoiceHoldCreateView,
    InvoicePanelView,
)
from recoup.dunning.views.policies import (
    LevelEditView,
    PolicyDetailView,
    PolicyListView,
    PolicyYamlView,
    TemplateCreateView,
    TemplateEditView,
    offset_text,
)
from recoup.dunning.views.previews import (
    LevelPreviewPdfView,
    LevelPreviewView,
)
from recoup.dunning.views.runs import (
    RunDetailView,
    RunListView,
)

__all__ = [
    "CustomerHoldCreateView",
    "CustomerPanelView",
    "HoldReleaseView",
    "InvoiceHoldCreateView",
    "InvoicePanelView",
    "LevelEditView",
    "LevelPreviewPdfView",
    "LevelPreviewView",
    "MessageDetailView",
    "MessageDocumentView",
    "MessageRetryView",
    "OutboxView",
    "PolicyDetailView",
    "PolicyListView",
    "PolicyYamlView",
    "RunDetailView",
    "RunListView",
    "TemplateCreateView",
    "TemplateEditView",
    "offset_text",
]
