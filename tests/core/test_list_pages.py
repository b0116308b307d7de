"""A list whose first page is quick and whose full page follows (health checks edited in):
the full page is the one left in place, however fast it is built.

Both pages replace the same message through the response_url. This drives show_list as the
router does, with a router that sends its answer late (after the full page went out), which
is the order a busy worker thread can produce."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from bot.core.background import Background
from bot.core.listing import Listing, ListVerb, Vocabulary
from bot.core.values import Invocation, Reply
from commands.lists import show_list

URL = "https://hooks.slack.test/commands/T0/1/abc"


class Notifier:
    """Records what replaced the message through the response_url."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.changed = threading.Condition()

    def respond(self, url: str, reply: Reply) -> None:
        with self.changed:
            self.sent.append(f"{reply.text} {reply.blocks}")
            self.changed.notify_all()


def _listing(pending: str) -> Listing:
    return Listing("Services", "2 services", ("web", "api"), pending=pending)


def test_the_full_page_is_left_in_place_when_it_is_built_before_the_quick_one_is_sent() -> None:
    notifier = Notifier()
    background = Background.threaded(notifier)  # type: ignore[arg-type]
    listing = ListVerb(
        "services",
        Vocabulary,
        lambda _user, _filters: _listing(""),
        first=lambda _user, _filters: (_listing("checking health"), lambda: _listing("")),
    )
    services: Any = SimpleNamespace(background=background, notifier=notifier)
    invocation = Invocation("services", {}, {}, "U0A", "C0A", "T0", URL, "", "/services")
    try:
        reply = show_list(services, invocation, listing, listing.parse([]))
        with notifier.changed:
            notifier.changed.wait_for(
                lambda: any("checking health" not in sent for sent in notifier.sent), timeout=10
            )
        if not reply.said:  # the router's own send, late
            notifier.respond(URL, reply)
        assert notifier.sent, "nothing was sent"
        assert "checking health" not in notifier.sent[-1]
        assert len(notifier.sent) == 2
    finally:
        background.stop()
