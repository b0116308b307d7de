"""Images on the Docker engine through docker-py: build (classic builder, streamed), run a
test command in a throw-away container, tag, push: the ImageEngine port of
bot/core/build/model.py. What the registry says about releases is integrations.registry's."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import tarfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from docker.errors import ImageNotFound
from docker.errors import NotFound as DockerNotFound

from bot.core.build.model import BuildFailed, CancelToken, ImageInfo, JobFailed, LogSink
from bot.core.build.model import TestRun as TestRunResult
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.failures import ENGINE_FAILURES

log = logging.getLogger(__name__)

MAX_REPORT = 2_000_000


class DockerImages:
    """The ImageEngine port on the engine `connection` reaches. Builds stream over a client
    of their own, so cancelling one can hang up on it without touching other work; every
    other call shares the connection's client."""

    def __init__(self, connection: EngineConnection) -> None:
        self._engine = connection

    def check(self) -> None:
        """EngineUnavailable, saying why, unless the engine answers a ping."""
        self._engine.check()

    def build(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        on_line: LogSink,
        cancel: CancelToken,
    ) -> str:
        """Build `context` (classic builder, so the log has `Step N/M` lines), untagged: the
        caller tags it once it is known good, so a failed or cancelled build leaves no tag."""
        with self._engine.dedicated("build the image") as client:
            responses: list[Any] = []
            client.api.hooks["response"].append(lambda r, *a, **k: responses.append(r))
            cancel.on_cancel(lambda: _drop(responses))
            image_id = ""
            try:
                stream = client.api.build(
                    path=str(context), dockerfile=dockerfile, labels=dict(labels),
                    rm=True, forcerm=True, decode=True, pull=False,
                )  # fmt: skip
                for chunk in stream:
                    cancel.check()
                    image_id = _build_chunk(chunk, on_line) or image_id
            except Exception:
                # A cancelled build ends with its connection cut, whatever that raises
                # (urllib3 and the socket too, not only requests).
                cancel.check()
                raise
        cancel.check()
        if not image_id:
            raise BuildFailed("The engine finished the build without naming an image.")
        return image_id

    def inspect(self, reference: str) -> ImageInfo | None:
        """The image `reference` names, or None."""
        with self._engine.call(f"inspect `{reference}`") as client:
            try:
                attrs: dict[str, Any] = client.api.inspect_image(reference)  # type: ignore[no-untyped-call]
            except ImageNotFound:
                return None
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        return ImageInfo(id=attrs["Id"], size=int(attrs.get("Size") or 0), labels=labels)

    def tag(self, image_id: str, reference: str) -> None:
        """Name the image `repo:tag`."""
        repository, tag = reference.rsplit(":", 1)
        with self._engine.call(f"tag `{reference}`") as client:
            client.api.tag(image_id, repository, tag, force=True)

    def untag(self, reference: str) -> None:
        """Remove the name; an image other names still use stays."""
        with (
            self._engine.call(f"untag `{reference}`") as client,
            contextlib.suppress(DockerNotFound),
        ):
            client.api.remove_image(reference, noprune=False)

    def run_tests(
        self,
        reference: str,
        command: Sequence[str],
        *,
        timeout: int,
        report_path: str | None,
        labels: Mapping[str, str],
        on_line: LogSink,
        cancel: CancelToken,
    ) -> TestRunResult:
        """Run the command in a new container (no mounts), kill it at the time limit or on
        cancel, copy the report out, and remove the container whatever happened."""
        with self._engine.call(f"run the tests in `{reference}`") as client:
            container = client.containers.create(
                reference, command=list(command), labels=dict(labels), detach=True
            )
            timed_out = threading.Event()

            def kill() -> None:
                with contextlib.suppress(*ENGINE_FAILURES):
                    container.kill()

            def expire() -> None:
                timed_out.set()
                kill()

            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            try:
                container.start()
                timer.start()
                cancel.on_cancel(kill)
                for line in _lines(container.logs(stream=True, follow=True)):
                    on_line(line)
                exit_code = int(container.wait(timeout=timeout + 60).get("StatusCode", -1))
                cancel.check()
                report = _report(container, report_path, on_line) if report_path else None
            except ENGINE_FAILURES:
                cancel.check()
                raise
            finally:
                timer.cancel()
                with contextlib.suppress(*ENGINE_FAILURES):
                    container.remove(force=True)
        return TestRunResult(exit_code=exit_code, timed_out=timed_out.is_set(), report=report)

    def push(self, reference: str, on_line: LogSink, cancel: CancelToken) -> str:
        """Push `repo:tag` and return the digest. The engine answers 200 even when the
        registry refuses, with the error inside the stream: that is a failure too."""
        repository, tag = reference.rsplit(":", 1)
        digest = ""
        with self._engine.call(f"push `{reference}`") as client:
            for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
                cancel.check()
                if "errorDetail" in chunk or "error" in chunk:
                    detail = chunk.get("errorDetail") or {}
                    message = detail.get("message") or chunk.get("error") or "unknown error"
                    on_line(f"ERROR: {message}")
                    raise JobFailed(f"The registry refused the push of {reference}: {message}")
                aux = chunk.get("aux") or {}
                digest = aux.get("Digest") or digest
                status = chunk.get("status")
                if status and not chunk.get("progressDetail"):
                    on_line(f"{chunk.get('id', '')} {status}".strip())
        if not digest:
            raise JobFailed(f"The engine did not report a digest for {reference}.")
        return digest


def _build_chunk(chunk: Mapping[str, Any], on_line: LogSink) -> str | None:
    if "errorDetail" in chunk or "error" in chunk:
        detail = chunk.get("errorDetail") or {}
        message = str(detail.get("message") or chunk.get("error") or "unknown error")
        on_line(f"ERROR: {message}")
        raise BuildFailed(f"The build failed: {message.strip()[:500]}")
    for line in str(chunk.get("stream") or "").splitlines():
        if line.strip():
            on_line(line)
    aux = chunk.get("aux") or {}
    image_id = aux.get("ID") if isinstance(aux, dict) else None
    return str(image_id) if image_id else None


def _lines(stream: Iterator[bytes]) -> Iterator[str]:
    pending = b""
    for chunk in stream:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")
    if pending:
        yield pending.decode(errors="replace")


def _report(container: Any, path: str, on_line: LogSink) -> bytes | None:
    try:
        stream, _stat = container.get_archive(path)
        archive = b"".join(stream)
    except DockerNotFound:
        on_line(f"(no test report at {path})")
        return None
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.size <= MAX_REPORT:
                handle = tar.extractfile(member)
                return handle.read() if handle else None
    return None


def _drop(responses: list[Any]) -> None:
    # A classic build stops when its client hangs up; shutting the socket down also wakes
    # the thread blocked reading the build stream.
    for response in responses:
        with contextlib.suppress(Exception):
            raw = response.raw._fp.fp.raw
            sock = getattr(raw, "_sock", raw)
            sock.shutdown(socket.SHUT_RDWR)
