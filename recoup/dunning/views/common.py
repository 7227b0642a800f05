"""What the dunning pages share: the security policy of pages that show an email, and request helpers."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from recoup.dunning.planning import NO_POLICY
from recoup.dunning.rules import SKIP_TEXT

# Pages that show a stored or previewed email: what it loads inside its sandboxed frame is limited to this
# site, so an email can never call out (a tracking pixel, a remote font) when a collector opens it.
FRAME_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SOURCE_TEXT = {
    "invoice": "set on this invoice",
    "customer": "the customer's policy",
    "default": "the default policy",
}
SKIP_TEXTS = {**{str(code): text for code, text in SKIP_TEXT.items()}, NO_POLICY: "no dunning policy applies"}


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default
