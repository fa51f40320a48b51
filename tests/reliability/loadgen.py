"""A small load generator for the reliability tests: raw HTTP/1.1 over asyncio sockets.

Run as a separate process (so the app under test keeps its loop to itself):

    python tests/reliability/loadgen.py --port P --requests 20000 --connections 64 \
        --request request.json --acks acks.txt

Each connection keeps alive and sends one request at a time. The id of every 2xx answer is
appended to --acks (one per line, flushed at once, so a test can watch it while the server is
killed). A summary is printed as JSON on stdout at the end. Imports nothing from the project.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any, TextIO


class Load:
    def __init__(self, args: argparse.Namespace, acks: TextIO) -> None:
        with open(args.request, encoding="utf-8") as file:
            spec = json.load(file)
        body = spec["body"].encode("utf-8")
        headers = "".join(f"{k}: {v}\r\n" for k, v in spec["headers"].items())
        self.line = f"{spec.get('method', 'POST')} {spec['path']}?n="
        self.rest = (f" HTTP/1.1\r\nhost: {args.host}:{args.port}\r\n{headers}"
                     f"content-length: {len(body)}\r\n\r\n")
        self.body = body
        self.args = args
        self.acks = acks
        self.next = 0
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.in_flight_lost = 0  # sent, then the connection died before an answer

    def take(self) -> int | None:
        if self.next >= self.args.requests:
            return None
        self.next += 1
        return self.next

    async def connection(self) -> None:
        reader = writer = None
        while True:
            n = self.take()
            if n is None:
                break
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(self.args.host,
                                                                   self.args.port)
                assert reader is not None
                writer.write(f"{self.line}{n}{self.rest}".encode("latin-1") + self.body)
                status, payload = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.errors[type(exc).__name__] += 1
                if writer is not None:
                    self.in_flight_lost += 1
                    writer.close()
                reader = writer = None
                if self.args.stop_on_error:
                    break
                continue
            self.statuses[status] += 1
            if 200 <= status < 300:
                self.acks.write(json.loads(payload)["id"] + "\n")
                self.acks.flush()
        if writer is not None:
            writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with open(args.acks, "a", encoding="ascii") as acks:
        load = Load(args, acks)
        started = time.monotonic()
        await asyncio.gather(*(load.connection() for _ in range(args.connections)))
        seconds = time.monotonic() - started
    return {"sent": load.next, "statuses": dict(load.statuses), "errors": dict(load.errors),
            "lost_in_flight": load.in_flight_lost, "seconds": round(seconds, 3),
            "per_second": round(sum(load.statuses.values()) / max(seconds, 1e-9))}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--request", required=True, help="JSON: path, headers, body")
    parser.add_argument("--acks", required=True, help="file the acknowledged ids go to")
    parser.add_argument("--stop-on-error", action="store_true",
                        help="a connection stops at its first error (the server was killed)")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
