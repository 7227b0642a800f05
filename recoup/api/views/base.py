"""What every API viewset shares: JSON that never passes through float, pagination, and role checks."""

from __future__ import annotations

from rest_framework import viewsets

from recoup.api.pagination import Pagination
from recoup.api.parsers import DecimalJSONParser
from recoup.users.models import LEDGER_WRITE_ROLES, READ_ROLES


class LedgerViewSet(viewsets.GenericViewSet):
    """Every role reads; admins and managers write (RolePermission reads these two sets).

    Ledger documents are never deleted through the API (405): a correction is a reversing allocation.
    """

    read_roles = READ_ROLES
    write_roles = LEDGER_WRITE_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"
