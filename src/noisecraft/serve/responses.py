"""The error answers every route documents: JSON `{"detail": ...}` naming what is wrong, one status each."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: str | list[FieldError] = Field(description="what is wrong, naming the field and value; a list for "
                                                       "errors of the body's shape or types")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "a body that cannot be read (not UTF-8 JSON)"},
    401: {"model": ErrorResponse, "description": "missing or wrong token"},
    404: {"model": ErrorResponse, "description": "unknown model"},
    408: {"model": ErrorResponse, "description": "a body that did not arrive within the server's limit"},
    413: {"model": ErrorResponse, "description": "a body over the server's size limit"},
    422: {"model": ErrorResponse, "description": "a field or value the model does not take"},
    429: {"model": ErrorResponse, "description": "the queue is full: retry after Retry-After seconds"},
    503: {"model": ErrorResponse, "description": "past the per-request time limit"},
}
