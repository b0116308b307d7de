"""Loopback HTTP targets for bench.monitor_checks, in a process of their own: PORTS listening
sockets, each answering GET /t/<n> with 200, or 500 once /fail/<n> was requested."""

from __future__ import annotations

import asyncio
import sys

PORTS = 10


async def main(first_port: int) -> None:
    failing: set[str] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                path = line.split(b" ")[1].decode() if b" " in line else "/"
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                if path.startswith("/fail/"):
                    failing.add(path.removeprefix("/fail/"))
                status = "500 Oops" if path.removeprefix("/t/") in failing else "200 OK"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok".encode())
                await writer.drain()
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    servers = [
        await asyncio.start_server(serve, "127.0.0.1", first_port + i, backlog=1024)
        for i in range(PORTS)
    ]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
