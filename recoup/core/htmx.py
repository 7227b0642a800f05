"""What every page's htmx handling shares."""

from __future__ import annotations

from django.http import HttpRequest


def is_partial(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page (not a boosted link): answer with the partial only."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted  # type: ignore[union-attr]


def query_without_page(request: HttpRequest) -> str:
    """The request's query string less `page`, for the pagination links of a filtered list."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
