"""The Notifier port on slack_sdk: replies, posts, edits and threads, with secrets removed
and Slack's rate limits honoured (a 429 waits for Retry-After, then the message goes out)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.core.errors import IntegrationError, RateLimited, SlackUnavailable
from bot.core.redact import Redactor
from bot.core.values import Block, MessageRef, Reply
from bot.metrics import Metrics

log = logging.getLogger(__name__)


class _CountedRateLimit(RateLimitErrorRetryHandler):
    """Waits out a 429's Retry-After like its parent, and counts it for /metrics."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=5)
        self._metrics = metrics

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        method = request.url.rsplit("/", 1)[-1]
        self._metrics.slack_api_errors.labels(method=method, error="ratelimited").inc()
        super().prepare_for_next_attempt(
            state=state, request=request, response=response, error=error
        )


def retry_handlers(metrics: Metrics) -> list[RetryHandler]:
    """Honour 429 Retry-After, and retry 5xx answers and dropped connections a few times."""
    return [
        _CountedRateLimit(metrics),
        ServerErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


class SlackNotifier:
    """Sends Replies to Slack through the Web API and response URLs."""

    def __init__(self, client: WebClient, redact: Redactor, metrics: Metrics) -> None:
        self._client = client
        self._redact = redact
        self._metrics = metrics
        self._handlers = retry_handlers(metrics)

    def respond(self, response_url: str, reply: Reply) -> None:
        """Answer through a response_url: ephemeral unless the reply is public."""
        webhook = WebhookClient(response_url, timeout=10, retry_handlers=self._handlers, logger=log)
        text, blocks = self._clean(reply)
        response = webhook.send(
            text=text,
            blocks=blocks or None,
            response_type="in_channel" if reply.public else "ephemeral",
            replace_original=reply.replace or None,
        )
        if response.status_code != 200:
            self._metrics.slack_api_errors.labels(
                method="response_url", error=str(response.status_code)
            ).inc()
            log.warning("response_url answered %s", response.status_code)

    def post(
        self,
        channel_id: str,
        reply: Reply,
        thread_ts: str | None = None,
        *,
        broadcast: bool = False,
    ) -> MessageRef:
        """chat.postMessage, threaded when thread_ts is given (and shown in the channel too
        with broadcast)."""
        text, blocks = self._clean(reply)
        result = self._call(
            "chat.postMessage",
            channel=channel_id,
            text=text,
            blocks=blocks or None,
            thread_ts=thread_ts,
            reply_broadcast=True if broadcast and thread_ts else None,
        )
        return MessageRef(channel_id=str(result["channel"]), ts=str(result["ts"]))

    def update(self, ref: MessageRef, reply: Reply) -> None:
        """chat.update on a message the bot posted."""
        text, blocks = self._clean(reply)
        self._call("chat.update", channel=ref.channel_id, ts=ref.ts, text=text, blocks=blocks)

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        """chat.postEphemeral to one user."""
        text, blocks = self._clean(reply)
        self._call(
            "chat.postEphemeral", channel=channel_id, user=user_id, text=text, blocks=blocks or None
        )

    def upload(
        self,
        channel_id: str,
        filename: str,
        content: bytes,
        comment: str,
        thread_ts: str | None = None,
    ) -> None:
        """Share a file through files upload v2 (getUploadURLExternal, then
        completeUploadExternal); secrets are redacted from text content and the comment."""
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            cleaned = content
        else:
            cleaned = self._redact(text).encode("utf-8")
        try:
            self._client.files_upload_v2(
                channel=channel_id,
                filename=filename,
                content=cleaned,
                initial_comment=self._redact(comment),
                thread_ts=thread_ts,
            )
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            self._metrics.slack_api_errors.labels(method="files.upload_v2", error=code).inc()
            raise IntegrationError(f"Slack refused the file upload: {code}.") from error

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        payload = {key: value for key, value in params.items() if value is not None}
        try:
            response = self._client.api_call(method, json=payload)
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            self._metrics.slack_api_errors.labels(method=method, error=code).inc()
            raise _refusal(method, code, error) from error
        except OSError as error:  # refused, reset or timed out: urllib's errors are OSErrors
            self._metrics.slack_api_errors.labels(method=method, error="unreachable").inc()
            raise SlackUnavailable(f"Slack did not answer {method}.") from error
        data = response.data
        if not isinstance(data, dict):
            raise IntegrationError(f"Slack sent an unreadable answer to {method}.")
        return data

    def _clean(self, reply: Reply) -> tuple[str, list[Block]]:
        text = self._redact(reply.text)
        if not reply.blocks:
            return text, []
        # Each string on its own, not the blocks' JSON: JSON escapes quotes, backslashes and
        # every non-ASCII character, and a secret escaped that way no longer matches.
        return text, [self._redact_tree(block) for block in reply.blocks]

    def _redact_tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {key: self._redact_tree(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact_tree(item) for item in value]
        return value


def _refusal(method: str, code: str, error: SlackApiError) -> IntegrationError:
    """The error for an answer that was not ok: a 429 or a 5xx may work later, the rest
    will not."""
    status = error.response.status_code
    if status == 429:
        headers = {name.lower(): value for name, value in error.response.headers.items()}
        wait = str(headers.get("retry-after", "1")).strip()
        retry_after = float(wait) if wait.isdigit() else 1.0
        return RateLimited(f"Slack rate-limited {method}.", retry_after)
    if status >= 500:
        return SlackUnavailable(f"Slack failed on {method} (HTTP {status}: {code}).")
    return IntegrationError(f"Slack refused {method}: {code}.")
