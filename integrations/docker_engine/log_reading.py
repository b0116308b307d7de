"""Reading log streams from the engine within a size cap and a time limit.

Each stream is read on a thread of its own and handed over chunk by chunk, so the time
limit holds even when the engine stops sending (a node that does not answer, a stream
that stalls): the caller gets what arrived by then, marked as cut short. A stream that is
still open then is closed from the caller's side when it can be (docker-py's streams
have a `close` that shuts their socket), since docker-py reads streams without a socket
timeout and its reader thread would otherwise wait for the engine forever.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bot.core.operate.model import LogLine

_END = object()


@dataclass
class Bounded:
    """What was read: the lines in the order they came, and whether a cap cut them short."""

    lines: list[LogLine] = field(default_factory=list)
    capped: bool = False


@dataclass(frozen=True, slots=True)
class Source:
    """One stream to read, how its lines are parsed, and how to cut it off (None: the
    stream cannot be cut off from another thread, e.g. a plain generator)."""

    stream: Iterator[bytes]
    parse: Callable[[str], LogLine]
    cancel: Callable[[], None] | None = None


def read_bounded(
    stream: Iterator[bytes],
    parse: Callable[[str], LogLine],
    *,
    max_bytes: int,
    seconds: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> Bounded:
    """The complete lines of `stream`, each through `parse`, until it ends, more than
    `max_bytes` arrived, or `seconds` passed. An error the stream raises is raised here."""
    return read_all([Source(stream, parse)], max_bytes=max_bytes, seconds=seconds,
                    monotonic=monotonic)  # fmt: skip


def read_all(
    sources: Sequence[Source],
    *,
    max_bytes: int,
    seconds: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> Bounded:
    """The complete lines of every source, read at once, until all ended, more than
    `max_bytes` arrived in all, or `seconds` passed. The first error a stream raises is
    raised here (the other streams are cut off first)."""
    chunks: queue.Queue[tuple[int, object]] = queue.Queue()
    stop = threading.Event()
    for index, source in enumerate(sources):
        threading.Thread(target=_pump, args=(index, source.stream, chunks, stop),
                         name="opsloop-log-reader", daemon=True).start()  # fmt: skip
    deadline = monotonic() + seconds
    lines = _Lines(sources, max_bytes)
    open_streams = set(range(len(sources)))
    try:
        while open_streams:
            left = deadline - monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                index, item = chunks.get(timeout=left)
            except queue.Empty:
                lines.found.capped = True
                return lines.found
            if item is _END:
                open_streams.discard(index)
            elif isinstance(item, BaseException):
                raise item
            elif lines.take(index, item):
                lines.found.capped = True
                return lines.found
    finally:
        stop.set()
        for index in open_streams:
            cancel = sources[index].cancel
            if cancel is not None:
                _quietly(cancel)
    return lines.rest()


class _Lines:
    """Complete lines per source, parsed in arrival order, and the bytes they add up to."""

    def __init__(self, sources: Sequence[Source], max_bytes: int) -> None:
        self.found = Bounded()
        self._sources = sources
        self._max_bytes = max_bytes
        self._size = 0
        self._pending = [b""] * len(sources)

    def take(self, index: int, chunk: object) -> bool:
        """Add a chunk of source `index`; True once the lines passed the size cap."""
        assert isinstance(chunk, bytes)
        parse = self._sources[index].parse
        *complete, self._pending[index] = (self._pending[index] + chunk).split(b"\n")
        for raw in complete:
            self._size += len(raw)
            self.found.lines.append(parse(raw.decode("utf-8", "replace")))
        return self._size > self._max_bytes

    def rest(self) -> Bounded:
        """Every line, with each source's last one that had no newline."""
        for index, rest in enumerate(self._pending):
            if rest.strip():
                parse = self._sources[index].parse
                self.found.lines.append(parse(rest.decode("utf-8", "replace")))
        return self.found


def _pump(
    index: int,
    stream: Iterator[bytes],
    chunks: queue.Queue[tuple[int, object]],
    stop: threading.Event,
) -> None:
    try:
        for chunk in stream:
            chunks.put((index, chunk))
            if stop.is_set():
                break
    except BaseException as error:  # handed to the caller, which raises it
        if not stop.is_set():  # an error after a cut-off is the cut-off itself
            chunks.put((index, error))
    finally:
        chunks.put((index, _END))
        close = getattr(stream, "close", None)
        if close is not None:
            _quietly(close)


def _quietly(close: Callable[[], object]) -> None:
    # Closing a stream the engine already dropped, or one another thread closed, may
    # raise; it is closed either way.
    with contextlib.suppress(Exception):
        close()
