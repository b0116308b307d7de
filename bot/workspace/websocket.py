"""A small RFC 6455 WebSocket server side, standard library only (for Socket Mode).

The opening handshake (HTTP Upgrade, Sec-WebSocket-Accept), frames with 7/16/64-bit
lengths, client masking (unmasked client frames close with 1002), fragmented messages,
ping/pong and the close handshake. Servers never mask their frames.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
# Slack's envelopes are small; refusing huge lengths keeps a broken client from eating memory.
MAX_MESSAGE = 4 * 1024 * 1024


class ProtocolError(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class HandshakeRefused(Exception):
    """The opening handshake is not a valid WebSocket upgrade: answer ``status``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True, slots=True)
class Frame:
    """One WebSocket frame, payload already unmasked."""

    fin: bool
    opcode: int
    payload: bytes
    masked: bool


@dataclass(frozen=True, slots=True)
class Upgrade:
    """A valid upgrade request: its target ("/link/?ticket=...") and Sec-WebSocket-Key."""

    target: str
    key: str


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key."""
    digest = hashlib.sha1((key + WS_GUID).encode()).digest()  # noqa: S324  (RFC 6455 says SHA-1)
    return base64.b64encode(digest).decode()


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return data
    stream = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def encode_frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None
) -> bytes:
    """A frame on the wire. Servers send unmasked frames; a client passes a 4-byte ``mask``."""
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if mask is not None else 0
    size = len(payload)
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    return head + payload if mask is None else head + mask + _xor(payload, mask)


def _exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise EOFError("connection closed mid-frame")
    return data


def read_frame(stream: BinaryIO) -> Frame:
    """Read one frame (EOFError when the peer went away, ProtocolError when it is malformed)."""
    first, second = _exact(stream, 2)
    if first & 0x70:
        raise ProtocolError(1002, "reserved bits set without an extension")
    opcode, size = first & 0x0F, second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _exact(stream, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _exact(stream, 8))
    if opcode >= OP_CLOSE and (size > 125 or not first & 0x80):
        raise ProtocolError(1002, "control frames are short and never fragmented")
    if size > MAX_MESSAGE:
        raise ProtocolError(1009, "message too big")
    masked = bool(second & 0x80)
    key = _exact(stream, 4) if masked else b""
    payload = _exact(stream, size)
    return Frame(bool(first & 0x80), opcode, _xor(payload, key) if masked else payload, masked)


def read_upgrade(stream: BinaryIO) -> Upgrade:
    """Read the HTTP request that opens a WebSocket; HandshakeRefused if it is not one."""
    request = stream.readline(8192).decode("latin-1").split()
    headers: dict[str, str] = {}
    while (line := stream.readline(8192).decode("latin-1").strip()) and len(headers) < 100:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if len(request) != 3 or request[0] != "GET" or not request[2].startswith("HTTP/1."):
        raise HandshakeRefused(400, "Bad Request")
    key = headers.get("sec-websocket-key", "")
    try:
        key_ok = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        key_ok = False
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in tokens or not key_ok:
        raise HandshakeRefused(400, "Bad Request")
    if headers.get("sec-websocket-version") != "13":
        raise HandshakeRefused(426, "Upgrade Required")
    return Upgrade(request[1], key)


def refuse(sock: socket.socket, status: int, reason: str) -> None:
    """Answer a refused handshake with a plain HTTP status."""
    body = reason.encode()
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    sock.sendall(f"{head}\r\n".encode() + body)


class WebSocket:
    """An accepted connection: answer the upgrade, then send frames and read messages."""

    def __init__(self, sock: socket.socket, stream: BinaryIO, upgrade: Upgrade) -> None:
        self.sock, self.stream = sock, stream
        self.open = True
        self._send_lock = threading.Lock()
        self._close_lock = threading.Lock()
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept_key(upgrade.key)}\r\n\r\n".encode()
        )

    def send(self, opcode: int, payload: bytes) -> None:
        """Send one unmasked frame (OSError if the peer is gone)."""
        with self._send_lock:
            self.sock.sendall(encode_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        """Send a text message."""
        self.send(OP_TEXT, text.encode())

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (best effort) and drop the socket; safe to call twice."""
        with self._close_lock:
            if not self.open:
                return
            self.open = False
        with contextlib.suppress(OSError):  # the peer may already be gone
            self.send(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def receive(self, on_text: Callable[[str], None]) -> None:
        """Call ``on_text`` for every text message until the connection ends. Pings are
        answered; a protocol error or a binary message closes with the matching code."""
        try:
            self._read_messages(on_text)
        except ProtocolError as error:
            self.close(error.code, str(error))
        except (OSError, EOFError):
            pass  # the peer went away, or close() ran on another thread
        finally:
            self.close()

    def _read_messages(self, on_text: Callable[[str], None]) -> None:
        parts: list[bytes] = []
        opcode: int | None = None
        while self.open:
            frame = read_frame(self.stream)
            if not frame.masked:
                raise ProtocolError(1002, "client frames must be masked")
            if frame.opcode == OP_PING:
                self.send(OP_PONG, frame.payload)
            elif frame.opcode == OP_CLOSE:
                if len(frame.payload) == 1:
                    raise ProtocolError(1002, "a close payload starts with a 2-byte code")
                code = struct.unpack("!H", frame.payload[:2])[0] if frame.payload else 1000
                self.close(code)
            elif frame.opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
                if (frame.opcode == OP_CONTINUATION) != (opcode is not None):
                    raise ProtocolError(1002, "unexpected continuation state")
                opcode = frame.opcode if opcode is None else opcode
                parts.append(frame.payload)
                if sum(map(len, parts)) > MAX_MESSAGE:
                    raise ProtocolError(1009, "message too big")
                if frame.fin:
                    on_text(_text(opcode, b"".join(parts)))
                    parts, opcode = [], None
            elif frame.opcode != OP_PONG:
                raise ProtocolError(1002, f"unknown opcode {frame.opcode}")


def _text(opcode: int, data: bytes) -> str:
    if opcode != OP_TEXT:
        raise ProtocolError(1003, "only text messages are accepted")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(1007, "text message is not UTF-8") from None
