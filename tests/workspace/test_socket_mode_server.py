"""The workspace's Socket Mode endpoint: RFC 6455 framing on a raw socket, Slack's protocol
through slack_sdk's own client, and apps.connections.open's token rules."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.workspace import SlackWorkspace
from tests.specs import REPO
from tests.workspace.conftest import TOKEN

APP_TOKEN = "xapp-1-A0OPSLOOP-1-workspace-tests"
# RFC 6455, section 1.3: this key must be answered with this accept value.
RFC_KEY, RFC_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
DEADLINE = 10.0


@pytest.fixture
def app_workspace() -> Iterator[SlackWorkspace]:
    with SlackWorkspace(bot_token=TOKEN, app_token=APP_TOKEN) as running:
        yield running


class RawClient:
    """A hand-written WebSocket client: masks its frames, reads the server's unmasked ones."""

    def __init__(self, url: str, key: str = RFC_KEY, version: str = "13") -> None:
        rest = url.removeprefix("ws://")
        host_port, _, path = rest.partition("/")
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=DEADLINE)
        self.stream: BinaryIO = self.sock.makefile("rb")
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.status = int(self.stream.readline().split()[1])
        self.headers: dict[str, str] = {}
        while line := self.stream.readline().decode().strip():
            name, _, value = line.partition(":")
            self.headers[name.lower()] = value.strip()

    def send(self, opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> None:
        head = bytes([(0x80 if fin else 0) | opcode])
        bit = 0x80 if masked else 0
        if len(payload) < 126:
            head += bytes([bit | len(payload)])
        elif len(payload) < 65536:
            head += bytes([bit | 126]) + struct.pack("!H", len(payload))
        else:
            head += bytes([bit | 127]) + struct.pack("!Q", len(payload))
        if masked:
            mask = os.urandom(4)
            head += mask
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + payload)

    def receive(self) -> tuple[int, bytes]:
        first, second = self.stream.read(2)
        assert not second & 0x80, "servers must not mask"
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self.stream.read(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self.stream.read(8))
        return first & 0x0F, self.stream.read(size)

    def receive_json(self) -> Any:
        opcode, data = self.receive()
        assert opcode == 0x1
        return json.loads(data)

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


def _url(workspace: SlackWorkspace) -> str:
    answer = WebClient(token=APP_TOKEN, base_url=workspace.api_url).apps_connections_open(
        app_token=APP_TOKEN
    )
    assert answer["ok"] is True
    return str(answer["url"])


def test_the_handshake_answers_the_rfc_accept_key_and_says_hello(
    app_workspace: SlackWorkspace,
) -> None:
    client = RawClient(_url(app_workspace))
    try:
        assert client.status == 101
        assert client.headers["sec-websocket-accept"] == RFC_ACCEPT
        assert client.headers["upgrade"].lower() == "websocket"
        hello = client.receive_json()
        assert hello["type"] == "hello"
        assert hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": "A0OPSLOOP"}
        app_workspace.socket_mode.wait_connected(DEADLINE)
    finally:
        client.close()


def test_masked_frames_round_trip_with_ping_fragments_and_long_lengths(
    app_workspace: SlackWorkspace,
) -> None:
    client = RawClient(_url(app_workspace))
    try:
        client.receive_json()  # hello
        client.send(0x9, b"are you there")
        assert client.receive() == (0xA, b"are you there")
        envelope = {"envelope_id": "e-1", "type": "events_api", "payload": {"pad": "x" * 70000}}
        link = app_workspace.socket_mode
        delivery = link.server.deliver(envelope)
        assert client.receive_json() == envelope  # a 64-bit length from the server
        ack = json.dumps({"envelope_id": "e-1", "payload": {"text": "y" * 300}}).encode()
        client.send(0x1, ack[:100], fin=False)  # a 16-bit length message in three fragments
        client.send(0x9, b"between fragments")  # control frames may interleave
        client.send(0x0, ack[100:200], fin=False)
        client.send(0x0, ack[200:])
        assert client.receive() == (0xA, b"between fragments")
        got = link.server.wait_ack(delivery, DEADLINE)
        assert (got.envelope_id, got.payload) == ("e-1", {"text": "y" * 300})
    finally:
        client.close()


def test_the_close_handshake_echoes_the_code_and_drops_the_connection(
    app_workspace: SlackWorkspace,
) -> None:
    client = RawClient(_url(app_workspace))
    try:
        client.receive_json()
        app_workspace.socket_mode.wait_connected(DEADLINE)
        client.send(0x8, struct.pack("!H", 1000) + b"bye")
        opcode, data = client.receive()
        assert (opcode, struct.unpack("!H", data[:2])[0]) == (0x8, 1000)
        assert client.stream.read(1) == b""  # the server closed the TCP connection
        app_workspace.wait_for(lambda: not app_workspace.socket_mode.connected, DEADLINE)
    finally:
        client.close()


def test_an_unmasked_client_frame_is_a_protocol_error(app_workspace: SlackWorkspace) -> None:
    client = RawClient(_url(app_workspace))
    try:
        client.receive_json()
        client.send(0x1, b'{"envelope_id": "e-2"}', masked=False)
        opcode, data = client.receive()
        assert (opcode, struct.unpack("!H", data[:2])[0]) == (0x8, 1002)
        assert app_workspace.socket_mode.acks == []
    finally:
        client.close()


def test_two_connections_take_turns_and_each_envelope_goes_to_one_of_them(
    app_workspace: SlackWorkspace,
) -> None:
    link = app_workspace.socket_mode
    first, second = RawClient(_url(app_workspace)), RawClient(_url(app_workspace))
    try:
        assert [first.receive_json()["type"], second.receive_json()["type"]] == ["hello"] * 2
        assert link.wait_connections(2, DEADLINE) == [1, 2]
        sent = [
            link.server.deliver({"envelope_id": f"e-{n}", "type": "events_api", "payload": {}})
            for n in range(4)
        ]
        assert [d.connection for d in sent] == [1, 2, 1, 2]
        # Each client got exactly its two, in order, and acks them on its own connection.
        assert [first.receive_json()["envelope_id"] for _ in range(2)] == ["e-0", "e-2"]
        assert [second.receive_json()["envelope_id"] for _ in range(2)] == ["e-1", "e-3"]
        for client, ids in ((first, ("e-0", "e-2")), (second, ("e-1", "e-3"))):
            for envelope_id in ids:
                client.send(0x1, json.dumps({"envelope_id": envelope_id}).encode())
        acks = [link.server.wait_ack(d, DEADLINE) for d in sent]
        assert [(a.envelope_id, a.connection) for a in acks] == [
            ("e-0", 1), ("e-1", 2), ("e-2", 1), ("e-3", 2),
        ]  # fmt: skip
        assert len(link.server.acks) == 4  # nothing was sent twice
    finally:
        first.close()
        second.close()


def test_a_connection_told_to_disconnect_gets_no_more_envelopes(
    app_workspace: SlackWorkspace,
) -> None:
    link = app_workspace.socket_mode
    old = RawClient(_url(app_workspace))
    try:
        old.receive_json()  # hello
        link.wait_connections(1, DEADLINE)
        link.server.disconnect_all()
        assert old.receive_json()["type"] == "disconnect"
        assert not link.connected  # open, but on its way out
        with pytest.raises(RuntimeError, match="no Socket Mode app is connected"):
            link.server.deliver({"envelope_id": "e-lost", "type": "events_api", "payload": {}})
        new = RawClient(_url(app_workspace))  # what the app does on "disconnect"
        try:
            new.receive_json()
            assert link.wait_connections(1, DEADLINE) == [2]
            delivery = link.server.deliver({"envelope_id": "e-5", "type": "events_api"})
            assert new.receive_json()["envelope_id"] == "e-5"
            assert delivery.connection == 2
        finally:
            new.close()
    finally:
        old.close()


def test_bad_upgrades_and_tickets_are_refused(app_workspace: SlackWorkspace) -> None:
    url = _url(app_workspace)
    used = RawClient(url)
    try:
        assert used.status == 101
        again = RawClient(url)  # each ticket opens one connection
        forged = RawClient(url.split("?")[0] + "?ticket=forged")
        old = RawClient(_url(app_workspace), version="8")
        short_key = RawClient(_url(app_workspace), key="c2hvcnQ=")
        assert [c.status for c in (again, forged, old, short_key)] == [401, 401, 426, 400]
        for client in (again, forged, old, short_key):
            client.close()
    finally:
        used.close()


def test_slack_sdks_own_client_connects_and_acks_with_a_payload(
    app_workspace: SlackWorkspace,
) -> None:
    client = SocketModeClient(
        app_token=APP_TOKEN, web_client=WebClient(base_url=app_workspace.api_url)
    )

    def answer(sdk: Any, request: SocketModeRequest) -> None:
        response = {"text": f"got {request.payload['command']} {request.payload['text']}"}
        sdk.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload=response))

    client.socket_mode_request_listeners.append(answer)
    try:
        client.connect()
        app_workspace.socket_mode.wait_connected(DEADLINE)
        ack = app_workspace.socket_mode.command("U0ALICE", "C0DEV", "/ops", "help me")
        assert ack.payload == {"text": "got /ops help me"}
    finally:
        client.close()


def test_apps_connections_open_takes_only_the_app_token(app_workspace: SlackWorkspace) -> None:
    def error(token: str | None, method: str = "apps.connections.open") -> str:
        client = WebClient(token=token, base_url=app_workspace.api_url)
        with pytest.raises(SlackApiError) as raised:
            client.api_call(method, http_verb="POST", params={"channel": "C0DEV", "text": "x"})
        return str(raised.value.response["error"])

    assert error(None) == "not_authed"
    assert error("xapp-1-someone-else") == "invalid_auth"
    assert error(TOKEN) == "not_allowed_token_type"
    assert error(APP_TOKEN, "chat.postMessage") == "not_allowed_token_type"
    assert app_workspace.messages("C0DEV") == []


def test_without_an_app_token_the_workspace_opens_no_socket(workspace: SlackWorkspace) -> None:
    client = WebClient(token="xapp-1-anything", base_url=workspace.api_url)
    with pytest.raises(SlackApiError) as raised:
        client.apps_connections_open(app_token="xapp-1-anything")
    assert raised.value.response["error"] == "invalid_auth"
    assert not workspace.socket_mode.connected


def test_only_socket_mode_loads_the_websockets_library() -> None:
    """The bot and a workspace that never opens Socket Mode run without `websockets`."""
    script = (
        "import sys\n"
        "import bot.app, bot.cli\n"
        "from bot.workspace import SlackWorkspace\n"
        "from bot.workspace.console import mount_console\n"
        "with SlackWorkspace() as ws:\n"
        "    mount_console(ws)\n"
        "    ws.user_post('U0ALICE', 'C0DEV', 'hi')\n"
        "print('websockets' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "False", result.stderr
