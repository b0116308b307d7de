"""Reading a log stream from the engine within a size cap and a time limit.

The stream is read on a thread of its own and handed over chunk by chunk, so the time
limit holds even when the engine stops sending (a node that does not answer, a stream
that stalls): the caller gets what arrived by then, marked as cut short, and the reader
thread ends with the stream (closed at its next chunk, or by the client's socket timeout).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bot.core.operate.model import LogLine

_END = object()


@dataclass
class Bounded:
    """What was read: the lines in the order they came, and whether a cap cut them short."""

    lines: list[LogLine] = field(default_factory=list)
    capped: bool = False


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
    chunks: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for chunk in stream:
                chunks.put(chunk)
                if stop.is_set():
                    break
        except BaseException as error:  # handed to the caller, which raises it
            chunks.put(error)
        finally:
            chunks.put(_END)
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    threading.Thread(target=pump, name="opsloop-log-reader", daemon=True).start()
    deadline = monotonic() + seconds
    found = Bounded()
    size = 0
    pending = b""
    try:
        while True:
            left = deadline - monotonic()
            if left <= 0:
                found.capped = True
                return found
            try:
                item = chunks.get(timeout=left)
            except queue.Empty:
                found.capped = True
                return found
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            pending += item
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                size += len(raw)
                found.lines.append(parse(raw.decode("utf-8", "replace")))
            if size > max_bytes:
                found.capped = True
                return found
    finally:
        stop.set()
    if pending.strip():
        found.lines.append(parse(pending.decode("utf-8", "replace")))
    return found
