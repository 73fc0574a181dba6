"""The errors HubSpot answers with, as :class:`sandbox._errors.ServiceError` subclasses.

The model raises them; ``api.py`` renders them through the one shared exception handler
(``install_error_handler``), so no route needs a try. Batch calls turn them into entries
of a 207 ``errors`` list with :meth:`HubSpotError.batch_error`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sandbox._errors import ServiceError


class HubSpotError(ServiceError):
    """An error HubSpot would answer with; ``body()`` is its JSON."""

    def __init__(self, status: int, category: str, message: str, *,
                 context: dict[str, list[str]] | None = None,
                 errors: list[dict] | None = None, sub_category: str | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(message, status=status)
        self.category = category
        self.context = context
        self.errors = errors
        self.sub_category = sub_category
        self.extra = extra or {}

    def body(self) -> dict:
        out: dict[str, Any] = {"status": "error", "message": self.message,
                               "correlationId": str(uuid.uuid4()), "category": self.category}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.context:
            out["context"] = self.context
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out

    def batch_error(self, *, ids: list[str] | None = None, trace: str | None = None) -> dict:
        """This error as one entry of a 207 ``errors`` list (``StandardError``)."""
        context = dict(self.context or {})
        if ids is not None:
            context.pop("id", None)
            context["ids"] = ids
        if trace is not None:
            context["objectWriteTraceId"] = [trace]
        out: dict[str, Any] = {"status": "error", "category": self.category,
                               "message": self.message, "context": context,
                               "errors": self.errors or [], "links": {}}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        return out


def validation_error(message: str, **kw: Any) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, **kw)


class PropertyValuesError(HubSpotError):
    """400 VALIDATION_ERROR "Property values were not valid: [...]"."""

    def __init__(self, problems: list[dict]) -> None:
        self.problems = problems
        super().__init__(
            400, "VALIDATION_ERROR",
            "Property values were not valid: " + json.dumps(problems, separators=(",", ":")),
            errors=[{"message": p["message"], "code": p["error"],
                     "context": {"propertyName": [p["name"]]}} for p in problems])


def problem(name: str, code: str, message: str) -> dict:
    """One entry of a ``PropertyValuesError``'s list."""
    return {"isValid": False, "message": message, "error": code, "name": name,
            "localizedErrorMessage": message}


def not_found(object_id: str) -> HubSpotError:
    return HubSpotError(404, "OBJECT_NOT_FOUND",
                        "Object not found.  objectId are usually numeric.",
                        context={"id": [str(object_id)]})
