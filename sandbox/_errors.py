"""One way for both sandboxes to turn a model error into an HTTP answer.

A service's state raises its own ``ServiceError`` subclass (HubSpot's category/message
body, OfficeRnD's message body); the HTTP layer registers one exception handler with
``install_error_handler`` instead of wrapping every route in a try.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class ServiceError(Exception):
    """An error of a sandboxed service, carrying its HTTP status and wire body."""

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body the real service sends for this error (override per service)."""
        return {"message": self.message}


def install_error_handler(app: FastAPI) -> None:
    """Render every ``ServiceError`` a route raises as the service's JSON error."""

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
