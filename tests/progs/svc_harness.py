#!/usr/bin/env python3
# svc_harness.py - start a daemon the way systemd does, without systemd:
# a listening UNIX socket passed as fd 3 (LISTEN_FDS=1, LISTEN_PID set in
# the child right before exec, so it is the daemon's own pid), a
# NOTIFY_SOCKET datagram socket we read, WATCHDOG_USEC/WATCHDOG_PID, and
# JOURNAL_STREAM naming the daemon's stderr.
#
# Prints "child PID" first, then one line per notification,
# "notify pid=SENDER MESSAGE-LINE" (a datagram of several lines gives one
# line each), and "exit CODE" or "signal N" when the daemon ends.
#
#   svc_harness.py [--listen PATH] [--mode 0660] [--notify PATH]
#       [--watchdog USEC] [--fds N] [--listen-pid N] [--fd3-file PATH]
#       [--abstract NAME] [--journal] -- CMD ARGS...
import argparse
import os
import select
import signal
import socket
import struct
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen")
    ap.add_argument("--mode", default="0660")
    ap.add_argument("--abstract")
    ap.add_argument("--fd3-file")
    ap.add_argument("--fds", type=int, default=1)
    ap.add_argument("--listen-pid", type=int)
    ap.add_argument("--notify")
    ap.add_argument("--watchdog", type=int)
    ap.add_argument("--journal", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    lsock = None
    if a.listen or a.abstract:
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if a.listen:
            lsock.bind(a.listen)
            os.chmod(a.listen, int(a.mode, 8))
        else:
            lsock.bind("\0" + a.abstract)
        lsock.listen(16)
    nsock = None
    if a.notify:
        nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        nsock.bind(a.notify)
        os.chmod(a.notify, 0o777)    # as systemd's: any user may send
        nsock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    pid = os.fork()
    if pid == 0:
        env = dict(os.environ)
        if lsock is not None or a.fd3_file:
            src = lsock.fileno() if lsock is not None else \
                os.open(a.fd3_file, os.O_RDONLY)
            for i in range(a.fds):
                if src != 3 + i:
                    os.dup2(src, 3 + i)
                os.set_inheritable(3 + i, True)
            env["LISTEN_FDS"] = str(a.fds)
            env["LISTEN_PID"] = str(a.listen_pid or os.getpid())
            env["LISTEN_FDNAMES"] = "ivshmem"
        if a.notify:
            env["NOTIFY_SOCKET"] = a.notify
        if a.watchdog:
            env["WATCHDOG_USEC"] = str(a.watchdog)
            env["WATCHDOG_PID"] = str(os.getpid())
        if a.journal:
            st = os.fstat(2)
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        os.execve(cmd[0], cmd, env)
    if lsock is not None:
        lsock.close()     # the daemon holds the only copy, as under systemd
    print("child %d" % pid, flush=True)
    signal.signal(signal.SIGTERM, lambda s, f: os.kill(pid, signal.SIGTERM))
    status = None
    while status is None:
        if nsock is not None:
            r, _, _ = select.select([nsock], [], [], 0.05)
            if r:
                read_one(nsock)
                continue
        else:
            select.select([], [], [], 0.05)
        p, st = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            status = st
    while nsock is not None and select.select([nsock], [], [], 0)[0]:
        read_one(nsock)
    if os.WIFEXITED(status):
        print("exit %d" % os.WEXITSTATUS(status), flush=True)
    else:
        print("signal %d" % os.WTERMSIG(status), flush=True)


def read_one(nsock):
    msg, anc, _, _ = nsock.recvmsg(4096, socket.CMSG_SPACE(12))
    sender = -1
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            sender = struct.unpack("iII", data[:12])[0]
    for line in msg.decode(errors="replace").split("\n"):
        if line:
            print("notify pid=%d %s" % (sender, line), flush=True)


if __name__ == "__main__":
    main()
