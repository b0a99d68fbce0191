"""One call to the Ledgerflow API: JSON in and out, the key as a bearer token, every failure a LedgerflowError."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Optional


class LedgerflowError(Exception):
    """An answer of the API that is not a success: its status, stable code and details (status 0: no answer)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, retry_after_seconds: Optional[float] = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_seconds = retry_after_seconds

    @property
    def retryable(self) -> bool:
        """Worth sending again unchanged: no answer, throttled, or the API or its database away. Another 4xx is the request's fault."""
        return self.status == 0 or self.status in (408, 429) or self.status >= 500

    def __repr__(self) -> str:
        return f"LedgerflowError(status={self.status}, code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class Http:
    api_key: str
    base_url: str
    timeout: float

    def call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base_url.rstrip("/") + path
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"authorization": f"Bearer {self.api_key}", "accept": "application/json"}
        if data is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8", "replace")
            try:
                return json.loads(text) if text else None
            except ValueError:
                raise LedgerflowError(0, "INVALID_RESPONSE", f"{method} {url} answered {response.status} without JSON: {text[:200]}") from None
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if text else {}
            except ValueError:
                parsed = {}
            if not isinstance(parsed, dict):
                parsed = {}
            retry_after = _seconds(err.headers.get("retry-after"))
            code = parsed.get("code") if isinstance(parsed.get("code"), str) else f"HTTP_{err.code}"
            message = parsed.get("error") if isinstance(parsed.get("error"), str) else f"{method} {path} answered {err.code}: {text[:200]}"
            raise LedgerflowError(err.code, code, message, parsed.get("details"), retry_after) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            # No answer, or one cut off mid-body (IncompleteRead): nothing to read, and worth sending again.
            reason = getattr(err, "reason", err)
            raise LedgerflowError(0, "NETWORK_ERROR", f"{method} {url} got no answer: {reason}") from None


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")
