"""The log of every call the local workspace served."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from bot.workspace.changes import ChangeFeed


@dataclass(frozen=True)
class CallRecord:
    """One served request.

    ``method`` is the Web API method ("chat.postMessage"), or "response_url" / "upload"
    for those endpoints. ``params`` are the decoded request parameters (form fields,
    JSON body or query; blocks stay as sent). ``response`` is the JSON answer (a dict),
    or the plain-text body for response_url / upload. ``status`` is the HTTP status.
    ``timestamp`` is ``time.time()`` when the answer was sent.
    """

    method: str
    params: dict[str, Any]
    response: Any
    status: int
    timestamp: float
    http_method: str = "POST"

    @property
    def ok(self) -> bool:
        """True for an HTTP 200 whose JSON answer says ok:true (or a plain "ok")."""
        if self.status != 200:
            return False
        if isinstance(self.response, dict):
            return bool(self.response.get("ok"))
        return True

    @property
    def error(self) -> str | None:
        """The ``error`` code of an ok:false answer, else None."""
        if isinstance(self.response, dict) and not self.response.get("ok"):
            return str(self.response.get("error"))
        return None


class CallLog:
    """Thread-safe, append-only list of :class:`CallRecord`."""

    def __init__(self, changes: ChangeFeed) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []
        self._changes = changes

    def add(self, record: CallRecord) -> None:
        """Append a record and wake anyone waiting for a change."""
        with self._lock:
            self._records.append(copy.deepcopy(record))
        self._changes.bump()

    def all(self) -> list[CallRecord]:
        """Every record so far, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
