"""Sample services for the sandbox: two small git repositories whose images build FROM
scratch on busybox (nothing needs pulling), serve HTTP, and carry a test script, so a
newcomer can /build, /test, /release and /deploy without a repository of their own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SAMPLES = Path(".opsloop") / "sandbox" / "repos"
BUSYBOX = Path("/bin/busybox")

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY www /www
COPY tests /tests
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""

TEST_SCRIPT = """\
#!/bin/sh
# The service's tests, run inside its image by /test; the summary line is pytest's.
started=$(date +%s)
passed=0
failed=0
check() {
  if grep -q "$2" "$1"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED $1"
  fi
}
check /www/index.html "{name}"
check /www/healthz ok
echo "$passed passed, $failed failed in $(($(date +%s) - started))s"
[ "$failed" -eq 0 ]
"""

_HISTORY = (
    ("OPS-1 Serve the {name} landing page", "1"),
    ("OPS-2 Add a health endpoint for deploys", "2"),
    ("OPS-3 Say which version is running", "3"),
)


def ensure_samples(root: Path = SAMPLES) -> list[str]:
    """Create the sample repositories under `root` unless they exist; returns what it made.
    Without busybox-static (/bin/busybox) there is nothing to build from, so it makes none."""
    if not BUSYBOX.exists() or shutil.which("git") is None:
        return []
    made = []
    for name in ("web", "api"):
        repo = root / name
        if (repo / ".git").exists():
            continue
        _create(repo, name)
        made.append(name)
    return made


def _create(repo: Path, name: str) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "Dockerfile").write_text(DOCKERFILE)
    shutil.copyfile(BUSYBOX, repo / "busybox")
    (repo / "busybox").chmod(0o755)
    (repo / "tests").mkdir(exist_ok=True)
    script = repo / "tests" / "run.sh"
    script.write_text(TEST_SCRIPT.replace("{name}", name))
    script.chmod(0o755)
    (repo / "www").mkdir(exist_ok=True)
    (repo / "www" / "healthz").write_text("ok\n")
    for message, version in _HISTORY:
        (repo / "www" / "index.html").write_text(f"<h1>{name}</h1><p>build {version}</p>\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", message.replace("{name}", name))


def _git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=opsloop sandbox", "-c", "user.email=sandbox@opsloop.invalid"]
    subprocess.run(["git", *identity, "-C", str(repo), *args], check=True, capture_output=True)
