"""Reading health answers byte by byte as they may arrive: the status and whether the
connection can carry the next check, whatever the split; what is not HTTP is refused."""

from __future__ import annotations

import pytest

from integrations.http_wire import BODY_BUDGET, MAX_HEAD, MalformedResponse, ResponseReader

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n10;note=x\r\n0123456789abcdef\r\n0\r\nX-Done: 1\r\n\r\n"
)


def read(*pieces: bytes) -> ResponseReader:
    reader = ResponseReader()
    for piece in pieces:
        reader.feed(piece)
    return reader


@pytest.mark.parametrize(
    ("answer", "status", "reusable"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, True),
        (b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 503, False),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, True),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
            302,
            True,
        ),
        (CHUNKED, 200, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 200, True),
    ],
)
def test_any_split_of_an_answer_reads_the_same(answer: bytes, status: int, reusable: bool) -> None:
    for cut in range(len(answer) + 1):
        reader = read(answer[:cut], answer[cut:])
        assert reader.done and (reader.status, reader.reusable) == (status, reusable), cut
    one_by_one = read(*(answer[i : i + 1] for i in range(len(answer))))
    assert one_by_one.done and one_by_one.status == status


def test_a_body_too_long_to_read_ends_the_reading_and_the_connection() -> None:
    declared = read(f"HTTP/1.1 200 OK\r\nContent-Length: {BODY_BUDGET + 1}\r\n\r\n".encode())
    assert declared.done and declared.status == 200 and not declared.reusable
    to_close = read(b"HTTP/1.0 200 OK\r\n\r\nand so on")
    assert to_close.done and not to_close.reusable
    chunk = b"8000\r\n" + b"x" * 0x8000 + b"\r\n"
    long = read(b"HTTP/1.1 500 No\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3)
    assert long.done and long.status == 500 and not long.reusable


def test_a_cut_short_answer_is_known_at_the_close() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
    assert not reader.done and reader.started
    with pytest.raises(MalformedResponse, match="closed before the response ended"):
        reader.closed()
    assert not ResponseReader().started


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "status line"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "without a colon"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "two different"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "hexadecimal"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd", "does not end"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * MAX_HEAD, "longer than 64 KiB"),
    ],
)
def test_what_is_not_http_is_refused_saying_why(answer: bytes, why: str) -> None:
    with pytest.raises(MalformedResponse, match=why):
        read(answer)
