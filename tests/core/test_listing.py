"""The shared pager and the list views: pure, no servers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.build.views import jobs_listing
from bot.core.code.catalogue import (
    CatalogueContext,
    CatalogueEntry,
    Deployment,
    EnvironmentRow,
    Health,
    Probe,
    services_listing,
)
from bot.core.errors import NotFound, UsageError
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary, parse_filters

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_filter_words_are_read_by_kind_and_anything_else_is_refused() -> None:
    words = Vocabulary(envs={"prod"}, services={"web"}, states={"failed"}, mine=True)
    filters = parse_filters(["prod", "web", "api-*", "failed", "mine", "page", "3"], words)
    assert filters == Filters(frozenset({"prod"}), frozenset({"web"}), ("api-",),
                              frozenset({"failed"}), True, 3)  # fmt: skip
    with pytest.raises(UsageError, match="`moon` is not a filter") as refused:
        parse_filters(["moon"], words)
    assert "an environment (prod)" in (refused.value.hint or "")


def test_an_unknown_word_right_after_a_service_is_an_unknown_environment() -> None:
    words = Vocabulary(envs={"prod", "staging"}, services={"web"}, states={"firing"})
    for typed in (["web", "prood"], ["we*", "prood"], ["web", "Prood", "firing"]):
        with pytest.raises(NotFound) as refused:
            parse_filters(typed, words)
        assert refused.value.message == (
            "Unknown environment `prood`. Known environments: `prod`, `staging`."
        )
    # Elsewhere it stays a word the list does not take; a list without environments too.
    with pytest.raises(UsageError, match="`prood` is not a filter"):
        parse_filters(["firing", "prood"], words)
    with pytest.raises(UsageError, match="`prood` is not a filter"):
        parse_filters(["web", "prood"], Vocabulary(services={"web"}))
    assert parse_filters(["web", "prod", "firing"], words).envs == {"prod"}


def test_a_list_that_took_a_service_first_refuses_an_unknown_one_as_such() -> None:
    def vocabulary() -> Vocabulary:
        return Vocabulary(envs={"prod"}, services={"web"})

    def build(user: str, filters: Filters) -> Listing:
        return Listing("Things", "none", ())

    with pytest.raises(NotFound, match="Unknown service `nosuch`"):
        ListVerb("status", vocabulary, build, service_first=True).parse(["nosuch"])
    with pytest.raises(UsageError, match="`nosuch` is not a filter"):
        ListVerb("services", vocabulary, build).parse(["nosuch"])
    asked = ListVerb("status", vocabulary, build, service_first=True).parse(["web", "page", "2"])
    assert asked.words == ("web", "page", "2") and asked.filters.page == 2


def test_an_exported_cell_that_looks_like_a_formula_stays_text() -> None:
    listing = Listing("Locks", "1", ("x",), ("reason",), (('=HYPERLINK("https://x")',),))
    rows = list(csv.reader(io.StringIO(listing.csv().decode())))
    assert rows[1] == ['\'=HYPERLINK("https://x")']


def _job(kind: JobKind, state: JobState) -> Job:
    return Job(id=f"{kind.value}-{state.value}", kind=kind, service="web", ref="HEAD",
               revision="a" * 40, user_id="U0A", channel_id="C0A", created_at=T0,
               log_path="", state=state)  # fmt: skip


def test_build_list_takes_a_kind_and_a_state_together() -> None:
    jobs = [
        _job(kind, state) for kind in JobKind for state in (JobState.FAILED, JobState.SUCCEEDED)
    ]
    listing = jobs_listing(jobs, T0, Filters(states=frozenset({"failed", "test"})), "U0A")
    assert [record[0] for record in listing.records] == ["test-failed"]


def test_a_container_that_stopped_counts_as_unhealthy() -> None:
    stopped = Deployment("opsloop-web-prod", "container", "exited", "1.0.0")
    row = EnvironmentRow("prod", stopped, None, Probe(Health.UNKNOWN))
    listing = services_listing(
        [CatalogueEntry("web", "./web", "img", (row,))], CatalogueContext(), Filters(), 1
    )
    assert listing.summary.startswith("1 services: 1 unhealthy")
    assert ":red_circle: `prod` *1.0.0* exited" in listing.rows[0]
