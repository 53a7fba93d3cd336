#!/usr/bin/env python3
"""A userland TCP proxy that injects network faults (this kernel has no netem).

One process serves several named listeners on 127.0.0.1, each forwarding to
the same upstream (Redis). The soak starts it once, gives every makegood
process its own listener, and steers it through stdin, one command a line;
each command is answered on stdout with ``ok`` (or ``error <why>``):

    drop NAME               abort every open connection of NAME (both sides)
    stall NAME SECONDS      stop forwarding on NAME for SECONDS, then resume;
                            buffered bytes flow again afterwards
    blackhole NAME SECONDS  for SECONDS, NAME accepts connections but forwards
                            nothing, in either direction; when it ends, every
                            connection that lived through it is aborted
    heal                    end every stall and blackhole at once

At start it prints ``listen NAME PORT`` for each listener, then ``ready``.
End of stdin (the soak went away) stops it.

Usage: tcp_proxy.py --upstream HOST:PORT NAME [NAME...]
"""

import argparse
import asyncio
import sys
import threading

CHUNK = 65536


class Listener:
    """One named listening port and the connections it forwards."""

    def __init__(self, name, upstream):
        self.name = name
        self.upstream = upstream
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.blackholed = False
        self.connections = set()
        self._resume = None
        self.port = 0

    async def start(self):
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    def drop(self):
        """Aborts every open connection."""
        for writers in list(self.connections):
            for writer in writers:
                writer.transport.abort()
        self.connections.clear()

    def fault(self, seconds, blackhole):
        """Stops forwarding for `seconds` (a stall or a blackhole)."""
        self.flowing.clear()
        self.blackholed = self.blackholed or blackhole
        if self._resume is not None:
            self._resume.cancel()
        self._resume = asyncio.get_running_loop().call_later(seconds, self.heal)

    def heal(self):
        """Ends a stall or blackhole; a blackhole's connections are aborted."""
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self.blackholed:
            self.blackholed = False
            self.drop()
        self.flowing.set()

    async def _serve(self, down_reader, down_writer):
        if self.blackholed:
            # Accepted, never forwarded: held until the blackhole ends.
            self.connections.add((down_writer,))
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            down_writer.transport.abort()
            return
        pair = (down_writer, up_writer)
        self.connections.add(pair)
        await asyncio.gather(
            self._pump(down_reader, up_writer), self._pump(up_reader, down_writer)
        )
        self.connections.discard(pair)
        for writer in pair:
            writer.transport.abort()

    async def _pump(self, reader, writer):
        try:
            while True:
                await self.flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        writer.transport.abort()


def execute(listeners, line):
    """Runs one control command; returns the reply line."""
    line = line.strip()
    words = line.split()
    if not words:
        return "error empty command"
    command, args = words[0], words[1:]
    if command == "heal" and not args:
        for listener in listeners.values():
            listener.heal()
        return "ok"
    if not args or args[0] not in listeners:
        return f"error unknown listener in {line!r}"
    listener = listeners[args[0]]
    if command == "drop" and len(args) == 1:
        listener.drop()
    elif command in ("stall", "blackhole") and len(args) == 2:
        listener.fault(float(args[1]), blackhole=command == "blackhole")
    else:
        return f"error bad command {line!r}"
    return "ok"


async def main_async(upstream, names):
    loop = asyncio.get_running_loop()
    listeners = {name: Listener(name, upstream) for name in names}
    for listener in listeners.values():
        await listener.start()
        print(f"listen {listener.name} {listener.port}", flush=True)
    print("ready", flush=True)

    lines = asyncio.Queue()

    def read_stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read_stdin, daemon=True).start()
    while (line := await lines.get()) is not None:
        print(execute(listeners, line), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    asyncio.run(main_async((host, int(port)), args.names))


if __name__ == "__main__":
    main()
