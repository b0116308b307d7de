"""A log stream is read within its size cap and time limit, even when the engine stops
sending: the lines that came are kept and the read says it was cut short."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.core.operate.model import LogLine
from integrations.docker_engine.log_reading import Bounded, Source, read_all, read_bounded


def _line(raw: str) -> LogLine:
    return LogLine("task", None, raw)


def _read_in_thread(stream: Iterator[bytes], **limits: float) -> list[Bounded]:
    """read_bounded on a thread, so a read that never returns fails the test, not hangs it."""
    found: list[Bounded] = []
    reader = threading.Thread(target=lambda: found.append(
        read_bounded(stream, _line, max_bytes=int(limits.get("max_bytes", 1_000_000)),
                     seconds=limits.get("seconds", 10.0))
    ))  # fmt: skip
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "the read did not stop at its time limit"
    return found


def test_a_stream_that_stalls_is_cut_at_the_time_limit() -> None:
    release = threading.Event()

    def stalling() -> Iterator[bytes]:
        yield b"first\nsecond\npart"
        release.wait(120)  # the engine sends nothing more
        yield b"never\n"

    try:
        (found,) = _read_in_thread(stalling(), seconds=0.5)
    finally:
        release.set()
    assert [line.text for line in found.lines] == ["first", "second"]
    assert found.capped


def test_a_large_output_stops_at_the_size_cap() -> None:
    def loud() -> Iterator[bytes]:
        for n in range(1000):
            yield f"line {n} ".encode() + b"x" * 990 + b"\n"

    (found,) = _read_in_thread(loud(), max_bytes=50_000)
    assert found.capped
    assert 50 <= len(found.lines) <= 52


def test_a_stream_that_ends_gives_every_line_including_the_last_unterminated_one() -> None:
    (found,) = _read_in_thread(iter([b"a\nb", b"c\n", b"d"]))
    assert [line.text for line in found.lines] == ["a", "bc", "d"]
    assert not found.capped


def test_an_error_of_the_stream_reaches_the_caller() -> None:
    def broken() -> Iterator[bytes]:
        yield b"a\n"
        raise ConnectionResetError("engine went away")

    with pytest.raises(ConnectionResetError):
        read_bounded(broken(), _line, max_bytes=1000, seconds=10)


def test_streams_still_open_at_the_time_limit_are_cut_off() -> None:
    release = threading.Event()
    cut: list[str] = []

    def stalling(name: str) -> Iterator[bytes]:
        yield f"{name} first\n".encode()
        release.wait(120)

    sources = [
        Source(stalling(name), _line, cancel=lambda name=name: cut.append(name))
        for name in ("a", "b")
    ]
    sources.append(Source(iter([b"c done\n"]), _line, cancel=lambda: cut.append("c")))
    try:
        found = read_all(sources, max_bytes=1000, seconds=0.5)
    finally:
        release.set()
    assert found.capped
    assert sorted(line.text for line in found.lines) == ["a first", "b first", "c done"]
    assert sorted(cut) == ["a", "b"]  # the stream that ended is not cut off
