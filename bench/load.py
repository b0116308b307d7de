"""A load generator for signed slash commands, run in its own process so that it does not
share the bot's interpreter lock:

    python -m bench.load URL SECRET COUNT CONCURRENCY TEXT RESPONSE_URL

Prints one JSON list of per-request latencies in seconds (send to full answer).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit

RUN = uuid.uuid4().hex[:12]


def signed_command(
    secret: str, text: str, index: int, response_url: str
) -> tuple[bytes, dict[str, str]]:
    """A slash command body and its Slack signature headers."""
    body = urlencode(
        {
            "token": "unused",
            "team_id": "T0OPSLOOP",
            "channel_id": "C0DEV",
            "user_id": "U0ALICE",
            "command": "/ops",
            "text": text,
            "response_url": response_url,
            # Unique per run: opsloop refuses a trigger_id it has seen as a replay.
            "trigger_id": f"bench.{RUN}.{index}",
        }
    ).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def run(
    url: str, secret: str, count: int, concurrency: int, *, text: str, response_url: str
) -> list[float]:
    """Send `count` commands from `concurrency` threads, each on a kept-alive connection."""
    parts = urlsplit(url)
    latencies: list[float] = []
    lock = threading.Lock()
    next_index = iter(range(count))

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        for index in next_index:
            body, headers = signed_command(secret, text, index, response_url)
            started = time.perf_counter()
            connection.request("POST", parts.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


if __name__ == "__main__":
    url_arg, secret_arg, count_arg, concurrency_arg, text_arg, response_arg = sys.argv[1:7]
    result = run(
        url_arg,
        secret_arg,
        int(count_arg),
        int(concurrency_arg),
        text=text_arg,
        response_url=response_arg,
    )
    json.dump(result, sys.stdout)
