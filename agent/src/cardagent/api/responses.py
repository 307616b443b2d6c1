"""The JSON responses of the API: the personnummer mask over every body, and the error
answers each /v1 route documents."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from cardagent.identifiers import mask_text
from cardagent.models import ErrorOut, ValidationErrorOut

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed body"},
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token"},
    403: {"model": ErrorOut, "description": "Origin or Host not allowed"},
    404: {"model": ErrorOut, "description": "No such job or order"},
    409: {"model": ErrorOut, "description": "Card removed, or the card cannot do this now"},
    422: {"model": ValidationErrorOut, "description": "Invalid request parameters"},
    502: {"model": ErrorOut, "description": "Card or token answered an error or garbage"},
    503: {"model": ErrorOut, "description": "pcscd not running or PKCS#11 module missing"},
}


class MaskingJSONResponse(JSONResponse):
    """JSON response with a last-line personnummer mask over the whole body."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str
        )
        return mask_text(text).encode("utf-8")


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return MaskingJSONResponse(body, status_code=status, headers=headers)
