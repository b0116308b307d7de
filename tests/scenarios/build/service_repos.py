"""Service repositories for the Build, Test and Release tests and benchmark: real git
repositories holding a Dockerfile FROM scratch on a static busybox, an app folder and a
test script. Plus a registry that refuses every push."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.images import DOCKERFILE_HEAD
from tests.support.repos import make_repo

REPORT = "/app/report.xml"

PASSING_TESTS = f"""#!/bin/sh
echo "tests/test_app.py::test_one PASSED"
echo "tests/test_app.py::test_two PASSED"
# Suites nested, no suite-level counts: the report is read by its test cases.
cat > {REPORT} <<'XML'
<testsuites><testsuite name="app"><testsuite name="tests.test_app">
<testcase classname="tests.test_app" name="test_one"/>
<testcase classname="tests.test_app" name="test_two"/>
<testcase classname="tests.test_app" name="test_slow"><skipped/></testcase>
</testsuite></testsuite></testsuites>
XML
echo "=================== 2 passed, 1 skipped in 0.01s ==================="
"""

FAILING_TESTS = f"""#!/bin/sh
echo "tests/test_app.py::test_one PASSED"
cat > {REPORT} <<'XML'
<testsuite name="app">
<testcase classname="tests.test_app" name="test_one"/>
<testcase classname="tests.test_app" name="test_two"><failure message="assert 1 == 2"/></testcase>
<testcase classname="tests.test_app" name="test_three"/>
</testsuite>
XML
echo "FAILED tests/test_app.py::test_two - assert 1 == 2"
echo "=================== 1 failed, 2 passed in 0.02s ==================="
exit 1
"""

# Tests that are still running when the /release that follows them arrives.
PATIENT_TESTS = PASSING_TESTS.replace("#!/bin/sh\n", "#!/bin/sh\nsleep 4\n", 1)
PATIENT_FAILING_TESTS = FAILING_TESTS.replace("#!/bin/sh\n", "#!/bin/sh\nsleep 4\n", 1)

BROKEN_STEP = "RUN echo compiling the app && echo 'error: missing semicolon' && exit 3"
SLOW_STEP = "RUN echo warming up && sleep 120"


def service_files(
    busybox: Path, tests: str = PASSING_TESTS, extra: str = "", note: str = "v1"
) -> dict[str, str | bytes]:
    """The files of a service: Dockerfile, busybox, app/ and its test script. `extra` adds
    Dockerfile lines after `COPY app /app` (step 4), so its first line is step 5."""
    dockerfile = DOCKERFILE_HEAD + "COPY app /app\n" + (extra + "\n" if extra else "")
    return {
        "Dockerfile": dockerfile,
        "busybox": busybox.read_bytes(),
        "app/test.sh": tests,
        "app/NOTE": note + "\n",
    }


def make_service_repo(path: Path, busybox: Path, message: str, **options: str) -> Path:
    """A repository on branch main with one commit of service_files(), busybox executable
    (git keeps the mode, and `git archive` hands it to the build)."""
    make_repo(path, service_files(busybox, **options), message)
    (path / "busybox").chmod(0o755)
    identity = ["-c", "user.name=Test Dev", "-c", "user.email=dev@example.com"]
    for args in (
        ["update-index", "--chmod=+x", "busybox"],
        ["commit", "-q", "--amend", "--no-edit"],
    ):
        subprocess.run(["git", *identity, "-C", str(path), *args], check=True, capture_output=True)
    return path


class _Refusing(BaseHTTPRequestHandler):
    """Speaks just enough of the registry API to be pushed to, then refuses every upload."""

    def _answer(self, status: int, body: dict[str, object] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v2/":
            self._answer(200)
        else:
            self._answer(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]})

    def do_HEAD(self) -> None:
        self._answer(404)

    def do_POST(self) -> None:
        self._answer(403, {"errors": [{"code": "DENIED", "message": "this registry is read-only"}]})

    do_PUT = do_PATCH = do_POST

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def refusing_registry() -> Iterator[str]:
    """host:port of a registry on loopback that answers /v2/ but denies every push."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
