"""Domain errors. Services raise these; views and the API turn them into messages and 4xx answers."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. `field` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class NotAllowed(DomainError):
    def __init__(self, message: str = "You do not have permission to do this.") -> None:
        super().__init__(message, code="permission_denied")
