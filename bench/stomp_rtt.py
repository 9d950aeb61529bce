#!/usr/bin/env python3
"""bench/stomp_rtt.py - the broker's own latency, the floor under the
bridge's: one STOMP client sends a small message to a queue it consumes
and waits for it to come back, N times; prints "p50 p99" in ms.

  python3 bench/stomp_rtt.py PORT [N]

A ping through two bridges crosses the broker twice (request and reply),
so twice this p50 is what no relay can beat.  Uses the frame code of
tests/progs/stomp_cli.py; TCP_NODELAY, as the relay sets it.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "progs"))
from stomp_cli import FrameReader, encode  # noqa: E402


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 200
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    r = FrameReader(s)
    s.sendall(encode("CONNECT", [("accept-version", "1.2"), ("host", "localhost")]))
    if r.read(10).command != "CONNECTED":
        sys.exit("stomp_rtt: no CONNECTED")
    q = "/queue/stomp-rtt-%d" % os.getpid()
    s.sendall(encode("SUBSCRIBE", [("id", "0"), ("destination", q), ("ack", "auto")]))
    body = bytes(98)                  # an ICMP echo's frame
    times = []
    for i in range(n + 10):
        t0 = time.perf_counter()
        s.sendall(encode("SEND", [("destination", q),
                                  ("content-type", "application/octet-stream")], body))
        while True:
            f = r.read(10)
            if f is None:
                sys.exit("stomp_rtt: a message did not come back")
            if f.command == "MESSAGE":
                break
        if i >= 10:                   # warm-up
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print("%.3f %.3f" % (times[len(times) // 2], times[int(len(times) * 0.99)]))


main()
