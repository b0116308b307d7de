"""Reading an HTTP/1.1 response as it arrives, for the health checks: the status code and
whether the connection can carry another request. The body is counted and dropped, never
kept: a Content-Length body or a chunked one is read to its end while it stays under a
budget (so the connection can be used again); a larger one, or one that runs until the
connection closes, ends the reading at once and the connection is closed."""

from __future__ import annotations

from enum import Enum, auto

MAX_HEAD = 64 * 1024
"""Bytes of status line and headers (and of a chunked body's trailers) taken at most."""
BODY_BUDGET = 64 * 1024
"""Body bytes read and dropped to keep a connection; past this it is closed instead."""


class MalformedResponse(Exception):
    """What arrived is not an HTTP/1.x response."""


class _Stage(Enum):
    HEAD = auto()
    LENGTH = auto()
    CHUNK_SIZE = auto()
    CHUNK_DATA = auto()
    CHUNK_END = auto()
    TRAILERS = auto()
    DONE = auto()


class ResponseReader:
    """Feed it the bytes of one response as they come (`feed`), and `closed()` when the
    connection ends. `done` once the status is known and the body is read or given up on;
    then `status` and `reusable` (the connection may carry the next request)."""

    def __init__(self) -> None:
        self.status = 0
        self.reusable = False
        self.started = False
        """Whether any byte arrived (a kept connection that closes before one did was
        closed by the server while idle, and the request can go on a new one)."""
        self._stage = _Stage.HEAD
        self._buffer = b""
        self._left = 0
        self._dropped = 0

    @property
    def done(self) -> bool:
        """The status is known and nothing more will be read."""
        return self._stage is _Stage.DONE

    def feed(self, data: bytes) -> None:
        """Take more bytes; MalformedResponse when they cannot be a response."""
        if data:
            self.started = True
        self._buffer += data
        while self._buffer and self._stage is not _Stage.DONE:
            if not self._step():
                return
        if self._stage is _Stage.DONE and self._buffer:
            self.reusable = False  # more than one response's worth: do not trust the rest

    def closed(self) -> None:
        """The connection ended; MalformedResponse when the response was cut short."""
        if self._stage is not _Stage.DONE:
            raise MalformedResponse("the connection closed before the response ended")

    # -- inside ------------------------------------------------------------------------------
    def _step(self) -> bool:
        """Parse what the buffer allows; False when more bytes are needed."""
        stage = self._stage
        if stage is _Stage.HEAD:
            return self._head()
        if stage in (_Stage.LENGTH, _Stage.CHUNK_DATA):
            taken = min(self._left, len(self._buffer))
            self._drop(taken)
            self._left -= taken
            if self._left == 0 and self._stage is stage:
                if stage is _Stage.LENGTH:
                    self._finish(self.reusable)
                else:
                    self._stage = _Stage.CHUNK_END
            return True
        if stage is _Stage.CHUNK_SIZE:
            return self._chunk_size()
        if stage is _Stage.CHUNK_END:
            if len(self._buffer) < 2:
                return False
            if self._buffer[:2] != b"\r\n":
                raise MalformedResponse("a chunk that does not end where its size says")
            self._buffer = self._buffer[2:]
            self._stage = _Stage.CHUNK_SIZE
            return True
        line = self._line()  # TRAILERS: header lines up to an empty one
        if line is None:
            return False
        if line == b"":
            self._finish(self.reusable)
        return True

    def _chunk_size(self) -> bool:
        line = self._line()
        if line is None:
            return False
        size = line.split(b";", 1)[0].strip()
        if not size or any(c not in b"0123456789abcdefABCDEF" for c in size):
            raise MalformedResponse("a chunk size that is not a hexadecimal number")
        self._left = int(size, 16)
        self._stage = _Stage.CHUNK_DATA if self._left else _Stage.TRAILERS
        return True

    def _head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                raise MalformedResponse("headers longer than 64 KiB")
            return False
        lines = self._buffer[:end].split(b"\r\n")
        self._buffer = self._buffer[end + 4 :]
        version, _, rest = lines[0].partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise MalformedResponse(f"a status line that is not HTTP/1.x: {lines[0][:40]!r}")
        status = int(code)
        if 100 <= status < 200:
            return True  # an interim answer (100 Continue): the real one follows
        self.status = status
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                raise MalformedResponse("a header line without a colon")
            key = name.strip().lower()
            value = value.strip()
            if key == b"content-length" and key in headers:
                if headers[key] != value:
                    raise MalformedResponse("two different Content-Length headers")
                continue  # an equal repeat says nothing more (RFC 9110, 8.6)
            headers[key] = value if key not in headers else headers[key] + b", " + value
        connection = headers.get(b"connection", b"").lower()
        self.reusable = version == b"HTTP/1.1" and b"close" not in connection
        self._body(status, headers)
        return True

    def _body(self, status: int, headers: dict[bytes, bytes]) -> None:
        if status in (204, 304):
            self._finish(self.reusable)
            return
        encoding = headers.get(b"transfer-encoding", b"").lower()
        if encoding:
            if encoding.rsplit(b",", 1)[-1].strip() != b"chunked":
                self._finish(False)  # the body runs to the close: not worth reading
                return
            self._stage = _Stage.CHUNK_SIZE
            return
        length = headers.get(b"content-length")
        if length is None:
            self._finish(False)  # the body runs until the server closes
            return
        if not length.isdigit():
            raise MalformedResponse("a Content-Length that is not a number")
        self._left = int(length)
        if self._left > BODY_BUDGET:
            self._finish(False)
        elif self._left == 0:
            self._finish(self.reusable)
        else:
            self._stage = _Stage.LENGTH

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                raise MalformedResponse("a chunk line or trailer longer than 64 KiB")
            return None
        line = self._buffer[:end]
        self._buffer = self._buffer[end + 2 :]
        return line

    def _drop(self, count: int) -> None:
        self._buffer = self._buffer[count:]
        self._dropped += count
        if self._dropped > BODY_BUDGET:
            self._finish(False)  # a long chunked body: close instead of reading it all

    def _finish(self, reusable: bool) -> None:
        self.reusable = reusable
        self._stage = _Stage.DONE
