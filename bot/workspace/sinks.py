"""Non-API endpoints of the local workspace: file upload URLs and response_urls."""

from __future__ import annotations

import copy
import itertools
import time
from typing import Any

from bot.workspace.content import check_blocks, json_list
from bot.workspace.model import (
    BOT_USER_ID,
    JsonDict,
    ResponseTarget,
    SlackError,
    UploadedFile,
)
from bot.workspace.state import WorkspaceState


class FileStore:
    """Files announced by files.getUploadURLExternal and their uploaded bytes."""

    def __init__(self, state: WorkspaceState) -> None:
        self._state = state
        self._files: dict[str, UploadedFile] = {}
        self._ids = itertools.count(1)

    def reserve(self, filename: str, length: int, user: str) -> UploadedFile:
        """Create a pending file with a fresh "F..." id."""
        with self._state.lock:
            file_id = f"F0UPLOAD{next(self._ids):04d}"
            self._files[file_id] = UploadedFile(
                id=file_id, filename=filename, length=length, user=user, created=int(time.time())
            )
            return copy.deepcopy(self._files[file_id])

    def receive(self, file_id: str, content: bytes) -> bool:
        """Store the uploaded bytes; False when the id is unknown."""
        with self._state.lock:
            found = self._files.get(file_id)
            if found is None:
                return False
            found.content = content
            self._state.changes.bump()
            return True

    def complete(self, file_id: str, title: str | None, channels: list[str]) -> UploadedFile:
        """Finish an upload (SlackError("file_not_found") if unknown or never uploaded)
        and share it to ``channels``."""
        with self._state.lock:
            found = self._files.get(file_id)
            if found is None or found.content is None:
                raise SlackError("file_not_found")
            found.completed = True
            found.title = title or found.title or found.filename
            found.channels = list(dict.fromkeys(found.channels + channels))
            self._state.changes.bump()
            return copy.deepcopy(found)

    def get(self, file_id: str) -> UploadedFile | None:
        """A copy of the file, or None."""
        with self._state.lock:
            found = self._files.get(file_id)
            return copy.deepcopy(found) if found else None

    def all(self) -> list[UploadedFile]:
        """Copies of every file, in creation order."""
        with self._state.lock:
            return [copy.deepcopy(f) for f in self._files.values()]


class ResponseUrls:
    """response_url targets and what a POST to one does.

    A POST ``{text, blocks, response_type, replace_original, delete_original, thread_ts}``:
    ``delete_original`` removes the bound message; ``replace_original`` edits it in place
    (recorded as an edit); otherwise ``response_type: "in_channel"`` posts as the bot and
    anything else (the default, "ephemeral") shows the message to the invoking user only.
    The first message posted through a URL becomes its original when it had none, so
    later ``replace_original`` posts edit it, as in Slack. Uses are counted, not limited.
    """

    def __init__(self, state: WorkspaceState) -> None:
        self._state = state
        self._targets: dict[str, ResponseTarget] = {}
        self._ids = itertools.count(1)

    def new(
        self, channel: str, user: str, original_ts: str | None = None, ephemeral: bool = False
    ) -> str:
        """Register a target and return its id (the last URL path segment)."""
        with self._state.lock:
            target_id = f"R{next(self._ids):06d}{int(time.time())}"
            self._targets[target_id] = ResponseTarget(
                target_id, channel, user, original_ts, ephemeral
            )
            return target_id

    def target(self, target_id: str) -> ResponseTarget | None:
        """A copy of the target, or None."""
        with self._state.lock:
            found = self._targets.get(target_id)
            return copy.deepcopy(found) if found else None

    def post(self, target_id: str, payload: Any) -> tuple[int, str]:
        """Apply a response_url POST; (HTTP status, plain-text body) like Slack's
        ("ok", or "no_text" / "invalid_blocks" / "expired_url" / "invalid_payload")."""
        with self._state.lock:
            target = self._targets.get(target_id)
            if target is None:
                return 404, "expired_url"
            if not isinstance(payload, dict):
                return 400, "invalid_payload"
            target.uses += 1
            try:
                self._apply(target, payload)
            except SlackError as err:
                return (404 if err.code == "message_not_found" else 400), err.code
            return 200, "ok"

    def _apply(self, target: ResponseTarget, payload: JsonDict) -> None:
        state = self._state
        if _truthy(payload.get("delete_original")) and target.original_ts:
            if target.original_ephemeral:
                state.delete_ephemeral(target.original_ts)
            else:
                state.delete(target.channel, target.original_ts, by_bot=False)
            return
        text = str(payload.get("text") or "")
        blocks = json_list(payload, "blocks", "invalid_blocks")
        if not text and not blocks:
            raise SlackError("no_text")
        if blocks is not None:
            check_blocks(blocks)
        if _truthy(payload.get("replace_original")) and target.original_ts:
            if target.original_ephemeral:
                state.replace_ephemeral(target.original_ts, text, blocks)
            else:
                state.update(
                    target.channel,
                    target.original_ts,
                    text=text,
                    blocks=blocks or [],
                    attachments=None,
                    by_bot=False,
                )
            return
        thread_ts = payload.get("thread_ts")
        thread = str(thread_ts) if thread_ts else None
        if payload.get("response_type") == "in_channel":
            msg = state.post(
                target.channel,
                BOT_USER_ID,
                text,
                bot=True,
                blocks=blocks,
                thread_ts=thread,
                source="response_url",
                require_member=False,
            )
            ts, ephemeral = msg.ts, False
        else:
            eph = state.post_ephemeral(
                target.channel,
                target.user,
                text,
                blocks=blocks,
                thread_ts=thread,
                source="response_url",
                require_member=False,
            )
            ts, ephemeral = eph.ts, True
        if target.original_ts is None:
            target.original_ts, target.original_ephemeral = ts, ephemeral


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}
