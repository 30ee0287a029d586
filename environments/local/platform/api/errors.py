"""JSON errors ``{"error": "<short>", "message": "<long>"}`` and the request-level error type."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    """Raised by a handler; the middleware answers it as JSON with ``status``."""

    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error}
        if self.message:
            body["message"] = self.message
        return web.json_response(body, status=self.status)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "Bad request", message)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or 400."""
    if not request.can_read_body:
        raise bad_request("the request needs a JSON object body")
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body
