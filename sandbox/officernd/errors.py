"""OfficeRnD's errors: ``{"statusCode", "message", "error"}``, or a body given as is (OAuth)."""

from __future__ import annotations

from typing import Any

from sandbox._errors import ServiceError

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests"}


class ApiError(ServiceError):
    """An OfficeRnD API error; the app's one exception handler renders it."""

    def __init__(self, status: int, message: str, error: str | None = None,
                 headers: dict[str, str] | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message, status=status, headers=headers)
        self.error = error
        self._body = body

    def body(self) -> dict[str, Any]:
        if self._body is not None:
            return self._body
        return {"statusCode": self.status, "message": self.message,
                "error": self.error or _REASONS.get(self.status, "Error")}
