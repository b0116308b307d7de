"""GitRepo against real repositories made by the test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.core.errors import NotFound, RepositoryUnavailable, UsageError
from integrations.git_repo import GitRepo
from tests.support.repos import commit, make_repo


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "origin", {"Dockerfile": "FROM scratch\n"}, "OPS-1 first")
    commit(repo, {"app.txt": "v2"}, "OPS-2 second, see OPS-1")
    subprocess.run(["git", "-C", str(repo), "tag", "v1.0.0"], check=True)
    commit(repo, {"app.txt": "v3"}, "third")
    return repo


def test_resolve_log_and_export(origin: Path, tmp_path: Path) -> None:
    repo = GitRepo(str(origin), tmp_path / "cache")
    head = repo.head()
    tag = repo.resolve("v1.0.0")
    assert repo.resolve("main") == head
    assert [c.subject for c in repo.log(tag, head)] == ["third"]
    assert [c.subject for c in repo.log(None, tag)] == ["OPS-2 second, see OPS-1", "OPS-1 first"]
    assert repo.is_ancestor(tag, head) and not repo.is_ancestor(head, tag)
    repo.export(tag, tmp_path / "out")
    assert (tmp_path / "out" / "app.txt").read_text() == "v2"
    assert not (tmp_path / "out" / ".git").exists()


def test_new_commits_are_seen_after_a_fetch(origin: Path, tmp_path: Path) -> None:
    repo = GitRepo(str(origin), tmp_path / "cache")
    before = repo.head()
    commit(origin, {"app.txt": "v4"}, "fourth")
    assert repo.head() != before
    assert [c.subject for c in repo.log(before, repo.head())] == ["fourth"]


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/x", "../../etc", "a;b", "HEAD@{1}"])
def test_unsafe_refs_are_refused_before_git_runs(origin: Path, tmp_path: Path, ref: str) -> None:
    with pytest.raises(UsageError):
        GitRepo(str(origin), tmp_path / "cache").resolve(ref)


def test_unknown_ref_and_unreachable_repository(origin: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="`nope` is not a branch"):
        GitRepo(str(origin), tmp_path / "cache").resolve("nope")
    with pytest.raises(RepositoryUnavailable, match="git failed"):
        GitRepo(str(tmp_path / "missing"), tmp_path / "cache").head()


def test_a_link_out_of_the_repository_is_refused_with_a_clear_answer(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "links", {"app.txt": "v1"}, "first")
    (origin / "tz").symlink_to("/usr/share/zoneinfo/UTC")
    sha = commit(origin, {}, "a link to the host's time zone")
    repo = GitRepo(str(origin), tmp_path / "cache")
    repo.fetch()
    with pytest.raises(UsageError, match="Links must stay inside the repository"):
        repo.export(sha, tmp_path / "out")


def test_credentials_in_the_source_never_appear_in_errors(tmp_path: Path) -> None:
    source = "http://deploy:s3cret-token@127.0.0.1:9/web.git"
    with pytest.raises(RepositoryUnavailable) as caught:
        GitRepo(source, tmp_path / "cache").head()
    assert "s3cret-token" not in caught.value.message
    assert "http://127.0.0.1:9/web.git" in caught.value.message
