"""Socket Mode: the same Bolt app over a WebSocket, for workspaces without a public URL."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler


def serve_socket_mode(app: App, app_token: str) -> None:
    """Connect with the app-level token (xapp-...) and handle requests until interrupted."""
    handler = SocketModeHandler(app, app_token=app_token)
    handler.start()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
