"""HTTP-facing errors of the server; the app turns each into a JSON body ``{"detail", "field"}``."""

from __future__ import annotations

from dryci.exceptions import DryciError


class ApiError(DryciError):
    def __init__(
        self, status: int, message: str, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
        super().__init__(message)


class AuthError(ApiError):
    """401: credentials missing, unknown, expired or revoked."""

    def __init__(self, message: str) -> None:
        super().__init__(401, message, headers={"WWW-Authenticate": 'Bearer realm="dryci"'})
