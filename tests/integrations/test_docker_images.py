"""The ImageEngine and ReleaseRegistry adapters against the real engine and registry."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker.errors import ImageNotFound

from bot.core import naming
from bot.core.build.model import BuildFailed, Cancelled, CancelToken, JobFailed, parse_step
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.images import DockerImages
from integrations.registry import RegistryReleases
from tests.scenarios.build.service_repos import (
    BROKEN_STEP,
    FAILING_TESTS,
    REPORT,
    SLOW_STEP,
    refusing_registry,
    service_files,
)

pytestmark = pytest.mark.docker


def _context(folder: Path, busybox: Path, **options: str) -> Path:
    folder.mkdir(parents=True)
    for name, content in service_files(busybox, **options).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
        target.chmod(0o755)
    return folder


@pytest.fixture
def engine(docker_client: DockerClient) -> Iterator[DockerImages]:
    created: list[str] = []
    images = DockerImages(EngineConnection(None))
    original = images.tag

    def tracking_tag(image_id: str, reference: str) -> None:
        created.append(reference)
        original(image_id, reference)

    images.tag = tracking_tag  # type: ignore[method-assign]
    yield images
    for reference in created:
        with contextlib.suppress(ImageNotFound):
            docker_client.images.remove(reference, force=True)


def _labels(tag: str) -> dict[str, str]:
    return {naming.OCI_REVISION: "f" * 40, naming.LABEL_BUILD_ID: f"build-{tag[-6:]}"}


def test_build_streams_steps_and_labels_the_image(
    engine: DockerImages, busybox_path: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    tag = f"opsloop-test/images:{uuid.uuid4().hex[:12]}"
    image_id = engine.build(
        _context(tmp_path / "ok", busybox_path), "Dockerfile", _labels(tag), lines.append,
        CancelToken(),
    )  # fmt: skip
    engine.tag(image_id, tag)
    info = engine.inspect(tag)
    assert info is not None and info.id == image_id and info.size > 0
    assert info.labels[naming.OCI_REVISION] == "f" * 40
    steps = [s for line in lines if (s := parse_step(line))]
    # The Dockerfile's four steps, then one step per label the build adds.
    assert [s.number for s in steps] == list(range(1, 7)) and steps[-1].total == 6
    assert steps[3].text == "COPY app /app" and steps[4].text.startswith("LABEL")


def test_a_failing_step_raises_with_the_engine_message(
    engine: DockerImages, busybox_path: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    context = _context(tmp_path / "broken", busybox_path, extra=BROKEN_STEP)
    with pytest.raises(BuildFailed, match="returned a non-zero code: 3"):
        engine.build(context, "Dockerfile", {}, lines.append, CancelToken())
    assert any(line.startswith("Step 5/5 : RUN echo compiling") for line in lines)
    assert "error: missing semicolon" in lines


def test_cancelling_a_build_stops_it(
    engine: DockerImages, busybox_path: Path, tmp_path: Path, docker_client: DockerClient
) -> None:
    token = CancelToken()

    def watch(line: str) -> None:
        if "warming up" in line:
            threading.Thread(target=token.cancel).start()

    context = _context(tmp_path / "slow", busybox_path, extra=SLOW_STEP, note=uuid.uuid4().hex)
    with pytest.raises(Cancelled):
        engine.build(context, "Dockerfile", {}, watch, token)


def test_tests_run_in_a_throwaway_container_and_the_report_is_copied_out(
    engine: DockerImages, busybox_path: Path, tmp_path: Path, docker_client: DockerClient
) -> None:
    tag = f"opsloop-test/images:{uuid.uuid4().hex[:12]}"
    engine.tag(engine.build(_context(tmp_path / "t", busybox_path), "Dockerfile", {},
                            lambda _: None, CancelToken()), tag)  # fmt: skip
    marker = {"opsloop.test-run": uuid.uuid4().hex}
    lines: list[str] = []
    run = engine.run_tests(
        tag, ["/bin/sh", "/app/test.sh"], timeout=60, report_path=REPORT, labels=marker,
        on_line=lines.append, cancel=CancelToken(),
    )  # fmt: skip
    assert run.exit_code == 0 and not run.timed_out
    assert run.report is not None and b'name="test_slow"' in run.report
    assert "tests/test_app.py::test_one PASSED" in lines
    failing = engine.run_tests(
        tag, ["/bin/sh", "-c", FAILING_TESTS.split("\n", 1)[1]], timeout=60, report_path=None,
        labels=marker, on_line=lines.append, cancel=CancelToken(),
    )  # fmt: skip
    assert failing.exit_code == 1
    slow = engine.run_tests(
        tag, ["/bin/sleep", "60"], timeout=1, report_path=None, labels=marker,
        on_line=lines.append, cancel=CancelToken(),
    )  # fmt: skip
    assert slow.timed_out
    label = f"opsloop.test-run={marker['opsloop.test-run']}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []


def test_push_returns_the_registry_digest_and_the_revision_label_is_readable(
    engine: DockerImages, busybox_path: Path, tmp_path: Path, registry_addr: str
) -> None:
    repository = f"{registry_addr}/opsloop-test/images-{uuid.uuid4().hex[:8]}"
    image_id = engine.build(
        _context(tmp_path / "p", busybox_path), "Dockerfile", _labels("x" * 6), lambda _: None,
        CancelToken(),
    )  # fmt: skip
    engine.tag(image_id, f"{repository}:1.0.0")
    digest = engine.push(f"{repository}:1.0.0", lambda _: None, CancelToken())
    path = repository.split("/", 1)[1]
    answer = httpx.head(
        f"http://{registry_addr}/v2/{path}/manifests/1.0.0",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert answer.headers["Docker-Content-Digest"] == digest
    releases = RegistryReleases()
    try:
        assert releases.tags(repository) == ["1.0.0"]
        assert releases.revision(repository, "1.0.0") == "f" * 40
    finally:
        httpx.delete(f"http://{registry_addr}/v2/{path}/manifests/{digest}")


def test_a_push_the_registry_refuses_is_a_failure(
    engine: DockerImages, busybox_path: Path, tmp_path: Path
) -> None:
    image_id = engine.build(
        _context(tmp_path / "r", busybox_path), "Dockerfile", {}, lambda _: None, CancelToken()
    )
    with refusing_registry() as host:
        reference = f"{host}/opsloop-test/refused:1.0.0"
        engine.tag(image_id, reference)
        lines: list[str] = []
        with pytest.raises(JobFailed, match="read-only"):
            engine.push(reference, lines.append, CancelToken())
    assert any(line.startswith("ERROR:") for line in lines)
