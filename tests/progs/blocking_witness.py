#!/usr/bin/env python3
"""tests/progs/blocking_witness.py - a peer of the server that does to its
eventfds what QEMU does: it sets every descriptor it receives blocking, and
the O_NONBLOCK flag lives in the open file description the server shares.
Being no tool of ours (argv0 is python3), the server counts it as a QEMU
that keeps the eventfds of departed peers.

    blocking_witness.py SOCKET

Prints "blocked N" after each descriptor it made blocking, flushed; reads
the server's messages until the server hangs up or it is killed.
"""
import array
import fcntl
import os
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
count = 0
while True:
    fds = array.array("i")
    msg, anc, _, _ = sock.recvmsg(8, socket.CMSG_SPACE(16 * fds.itemsize))
    if not msg:
        break
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    for fd in fds:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        count += 1
        print("blocked", count, flush=True)
