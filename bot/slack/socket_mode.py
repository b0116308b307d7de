"""Socket Mode: the same Bolt app over a WebSocket, for workspaces without a public URL."""

from __future__ import annotations

import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class SocketModeError(RuntimeError):
    """Socket Mode could not connect; the message says why (never the token)."""


def connect_socket_mode(app: App, app_token: str) -> SocketModeHandler:
    """Connect with the app-level token (xapp-...) and return the running handler; it
    takes requests on its own threads until ``close()``. apps.connections.open goes to
    the app client's base URL (SLACK_API_URL). SocketModeError if Slack refuses the
    token or the WebSocket does not open."""
    handler = SocketModeHandler(app, app_token=app_token)
    try:
        handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
    except SlackApiError as error:
        handler.close()  # type: ignore[no-untyped-call]
        code = error.response.get("error", "unknown_error")
        raise SocketModeError(
            f"Slack refused the app-level token (apps.connections.open: {code}); "
            "check SLACK_APP_TOKEN (xapp-..., with the connections:write scope)"
        ) from None
    except OSError as error:
        handler.close()  # type: ignore[no-untyped-call]
        raise SocketModeError(f"could not reach Slack for Socket Mode: {error}") from None
    # slack_sdk logs a failed WebSocket handshake instead of raising it.
    if not handler.client.is_connected():
        handler.close()  # type: ignore[no-untyped-call]
        raise SocketModeError("the Socket Mode WebSocket did not open; see the log above")
    return handler


def serve_socket_mode(app: App, app_token: str, stopping: threading.Event) -> None:
    """Connect with the app-level token and handle requests until `stopping` is set.
    Exits with status 1 and a clear log line if Socket Mode cannot connect."""
    try:
        handler = connect_socket_mode(app, app_token)
    except SocketModeError as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    log.info("opsloop connected in Socket Mode")
    try:
        stopping.wait()
    finally:
        handler.close()  # type: ignore[no-untyped-call]
