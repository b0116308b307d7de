"""What the project declares is what it imports, the checks' tools are pinned, and
constraints.txt pins every package the test command installs."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.specs import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
OURS = {"bot", "commands", "integrations"}
# pydantic requires exactly one pydantic-core version: it comes with pydantic, never apart.
PART_OF = {"pydantic_core": "pydantic"}


def _requirements(*groups: str) -> list[Requirement]:
    texts = list(PROJECT["dependencies"]) if "" in groups else []
    for group in groups:
        texts += PROJECT["optional-dependencies"].get(group, []) if group else []
    return [Requirement(text) for text in texts]


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for package in OURS:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - OURS - set(sys.stdlib_module_names)


def test_every_imported_library_is_declared() -> None:
    declared = {canonicalize_name(r.name) for r in _requirements("", "postgres", "sandbox")}
    providers = packages_distributions()
    undeclared = {
        module
        for module in _imported_top_level_modules()
        if not {canonicalize_name(d) for d in providers.get(module, [module])} & declared
        and canonicalize_name(PART_OF.get(module, module)) not in declared
    }
    assert undeclared == set()


def test_no_package_is_listed_twice() -> None:
    for group in ("", "dev", "postgres"):
        names = [canonicalize_name(r.name) for r in _requirements(group)]
        assert len(names) == len(set(names)), group
    runtime = {canonicalize_name(r.name) for r in _requirements("", "postgres")}
    dev = {canonicalize_name(r.name) for r in _requirements("dev")} - {"opsloop"}
    assert runtime & dev == set()


def test_the_checks_tools_and_stubs_are_pinned_exactly() -> None:
    for requirement in _requirements("dev"):
        name = canonicalize_name(requirement.name)
        if name.startswith("types-") or name in {"mypy", "ruff", "import-linter"}:
            assert str(requirement.specifier).startswith("=="), requirement


def test_constraints_pin_every_requirement_within_its_range() -> None:
    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    for requirement in _requirements("", "dev", "postgres"):
        name = canonicalize_name(requirement.name)
        if name == "opsloop":
            continue
        assert name in pins, f"{name} is not in constraints.txt (scripts/pin-constraints)"
        assert requirement.specifier.contains(pins[name], prereleases=True), requirement


def test_the_test_command_installs_from_the_constraints() -> None:
    script = (REPO / "scripts" / "test").read_text()
    assert re.search(r"pip install .*\\\n?\s*-c constraints\.txt -e '\.\[dev\]'", script)
    assert "constraints.txt -nt" in script
