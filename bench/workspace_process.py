"""Runs a local Slack workspace in its own process for the benchmarks, standing in for
Slack: prints its API URL and a response URL, then serves until stdin closes."""

from __future__ import annotations

import sys

from bot.workspace import SlackWorkspace

if __name__ == "__main__":
    with SlackWorkspace(bot_token=sys.argv[1]) as workspace:
        print(workspace.api_url, workspace.new_response_url("C0DEV", "U0ALICE"), flush=True)
        sys.stdin.read()
