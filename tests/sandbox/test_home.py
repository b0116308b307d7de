"""A sandbox state's own namespace: made on first start, kept across restarts, new after a
reset, and where the sample's images go."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bot.sandbox.home import ensure_namespace, images, in_namespace, read_namespace
from bot.sandbox.run import sandbox_config
from bot.settings import Settings
from tests.specs import REPO


def test_a_state_keeps_its_namespace_and_a_clean_state_gets_a_new_one(tmp_path: Path) -> None:
    home = tmp_path / ".opsloop" / "sandbox"
    assert read_namespace(home) is None
    first = ensure_namespace(home)
    assert first.startswith("sandbox-")
    assert ensure_namespace(home) == first  # a restart keeps the walk's releases
    shutil.rmtree(home)
    assert ensure_namespace(home) != first  # a clean state never sees them


def test_the_samples_images_go_under_the_namespace(tmp_path: Path) -> None:
    settings = Settings(config_path=tmp_path / "no-opsloop.yml")
    config = sandbox_config(settings, "sandbox-1a2b3c4d")
    assert images(config) == [
        "127.0.0.1:5000/sandbox-1a2b3c4d/web",
        "127.0.0.1:5000/sandbox-1a2b3c4d/api",
    ]
    assert images(in_namespace(sandbox_config(settings), "sandbox-00000000")) == [
        "127.0.0.1:5000/sandbox-00000000/web",
        "127.0.0.1:5000/sandbox-00000000/api",
    ]
    # What it deploys is named and labelled with the state's namespace too, the one
    # `--reset` removes proxies and networks by.
    assert config.namespace == "sandbox-1a2b3c4d"


def test_a_config_of_your_own_keeps_its_images(tmp_path: Path) -> None:
    mine = tmp_path / "opsloop.yml"
    sample = Path(__file__).parents[2] / "bot" / "sandbox" / "opsloop.yml"
    mine.write_text(sample.read_text().replace("127.0.0.1:5000/web", "127.0.0.1:5000/team/web"))
    config = sandbox_config(Settings(config_path=mine), "sandbox-1a2b3c4d")
    assert images(config) == ["127.0.0.1:5000/team/web", "127.0.0.1:5000/api"]


def test_what_opsloop_keeps_where_it_runs_is_ignored_by_git(tmp_path: Path) -> None:
    """The repository's .gitignore, in a fresh repository: the sandbox's nested git
    repositories, its store and the job logs under .opsloop/ never show as changes."""
    shutil.copy(REPO / ".gitignore", tmp_path / ".gitignore")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    kept = [
        ".opsloop/sandbox/namespace",
        ".opsloop/sandbox/opsloop.db",
        ".opsloop/sandbox/repos/web/.git/HEAD",
        ".opsloop/sandbox/repos/web/Dockerfile",
        ".opsloop/sandbox/jobs/build-1a2b3c.log",
    ]
    found = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(kept), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert found.stdout.split() == kept, found.stderr
