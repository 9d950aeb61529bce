#!/usr/bin/env python3
"""tests/progs/fake_broker.py - a small, hostile STOMP 1.2 "broker" for tests.

Owns the misbehaving peers a STOMP client (the bridge) must survive.  It
listens on 127.0.0.1 (--port, default a free one), prints the port as the
first line of stdout, serves any number of connections (in sequence or at
once) until SIGTERM, and logs what it does to stderr.  The frame codec comes
from stomp_cli.py next to it.

  fake_broker.py [--port P] --mode MODE [--after N] [--on COMMAND]
                 [--once | --first N] [--size BYTES] [--variant V] [--rst]
                 [--heart-beat SX,SY] [--login U:P]
                 [--record FILE] [--deliver FILE] [--acks FILE]

Every connection behaves like `good` until the Nth frame (--after, default
1: the CONNECT; with --on COMMAND only frames with that command count).
error, close and silent then act instead of answering that frame (so a SEND
is not recorded); malformed and oversize act right after answering it.
--after 0 acts at once, before any frame.
  good       never acts: a minimal broker (below)
  error      sends ERROR (with the frame's receipt-id, if it asked for a
             receipt), then closes
  close      closes the connection (--rst: with a TCP reset)
  silent     sends nothing more, not even heart-beats or receipts
  malformed  sends one bad frame (--variant garbage|escape|length|
             badlength|hugelength), then stays silent
  oversize   sends a MESSAGE whose body is --size+1 bytes to the first
             subscription, then goes on as good
--once (or --first N) applies MODE to the first (N) connection(s) only;
later ones are good, so a client that reconnects meets a good broker.

good: CONNECTED (version 1.2; heart-beat mirrors the client's unless
--heart-beat; EOLs are sent as negotiated); SEND is appended to --record as
"DEST HEXBODY" lines and queued; receipts are answered.  Messages are
queued per exact destination (topics too) and go to the first subscriber,
with no prefetch limit; --deliver FILE preloads "DEST HEXBODY" lines.  ack
ids look like ActiveMQ's ("ID:fb-CONN-SEQ", so they arrive escaped) and are
never reused; ACK/NACK lines "ACK|NACK ACKID MESSAGEID" go to --acks; an
unknown ack id gets ERROR.  Un-ACKed messages are redelivered, first and
with redelivered:true, when their connection or subscription ends.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stomp_cli import FrameReader, ProtocolError, encode  # noqa: E402

MALFORMED = {
    # Not UTF-8, not a command.
    "garbage": b"\x01\x02GARBAGE\xff\xfe\n\n\x00",
    # \q is an undefined escape: a fatal error per the spec.
    "escape": b"MESSAGE\nsubscription:%s\nmessage-id:m-bad\n"
              b"destination:/queue/x\nbad:x\\qy\ncontent-length:1\n\nA\x00",
    # 5 bytes announced, but the byte after them is not the NUL.
    "length": b"MESSAGE\nsubscription:%s\nmessage-id:m-bad\n"
              b"destination:/queue/x\ncontent-length:5\n\nabc\x00XYZ\x00",
    "badlength": b"MESSAGE\nsubscription:%s\nmessage-id:m-bad\n"
                 b"destination:/queue/x\ncontent-length:abc\n\nabc\x00",
    # Announces 99 GB, sends 3 bytes and waits.
    "hugelength": b"MESSAGE\nsubscription:%s\nmessage-id:m-bad\n"
                  b"destination:/queue/x\ncontent-length:99999999999\n\nabc",
}


class Msg:
    def __init__(self, n, dest, body):
        self.id, self.dest, self.body = "fb-msg-%d" % n, dest, body
        self.redelivered = False
        self.holder = None          # (conn, sub id, ack id) while in flight
        self.done = False


class Broker:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.msgs, self.conns, self.nconn = [], [], 0
        if args.deliver:
            with open(args.deliver) as f:
                for line in f:
                    if line.strip():
                        dest, _, hexbody = line.strip().partition(" ")
                        self.add(dest, bytes.fromhex(hexbody))

    def add(self, dest, body):
        self.msgs.append(Msg(len(self.msgs) + 1, dest, body))

    def append(self, path, line):
        if path:
            with self.lock, open(path, "a") as f:
                f.write(line + "\n")

    def dispatch(self):
        """Hand every ready message to a live subscription on its destination."""
        with self.lock:
            for m in self.msgs:
                if m.done or m.holder:
                    continue
                for c in self.conns:
                    sid = c.sub_for(m.dest)
                    if sid is not None:
                        c.deliver(m, sid)
                        break

    def release(self, conn, sid=None):
        """Requeue what conn (sid: one subscription of it) held un-ACKed."""
        with self.lock:
            for m in self.msgs:
                if m.holder and m.holder[0] is conn and sid in (None, m.holder[1]):
                    m.holder, m.redelivered = None, True
        self.dispatch()


class Conn:
    def __init__(self, broker, sock, n):
        self.b, self.sock, self.n, a = broker, sock, n, broker.args
        self.mode = a.mode if n <= a.first else "good"
        self.subs = {}              # id -> (destination, ack mode)
        self.wlock = threading.Lock()
        self.quiet = False          # silent/malformed: send nothing more
        self.connected = False
        self.seq = 0
        self.tx_every = self.rx_every = 0
        self.last_tx = time.monotonic()

    def log(self, msg):
        print("fake_broker %d: conn %d: %s" % (self.b.args.port, self.n, msg),
              file=sys.stderr, flush=True)

    def send(self, data):
        if self.quiet:
            return
        with self.wlock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass
            self.last_tx = time.monotonic()

    def frame(self, command, headers, body=b""):
        self.send(encode(command, headers, body))

    def sub_for(self, dest):
        if self.quiet or not self.connected:
            return None
        for sid, (d, _) in self.subs.items():
            if d == dest:
                return sid
        return None

    def deliver(self, m, sid):
        self.seq += 1
        h = [("subscription", sid), ("message-id", m.id),
             ("destination", m.dest),
             ("content-type", "application/octet-stream")]
        if self.subs[sid][1] == "auto":
            m.done = True
        else:
            ack = "ID:fb-%d-%d" % (self.n, self.seq)
            m.holder = (self, sid, ack)
            h.append(("ack", ack))
        if m.redelivered:
            h.append(("redelivered", "true"))
        self.frame("MESSAGE", h, m.body)

    def receipt(self, f):
        if f.get("receipt") is not None:
            self.frame("RECEIPT", [("receipt-id", f.get("receipt"))])

    def error(self, text, f=None, close=True):
        h = [("message", text), ("content-type", "text/plain")]
        if f is not None and f.get("receipt") is not None:
            h.append(("receipt-id", f.get("receipt")))
        self.log("ERROR %s" % text)
        self.frame("ERROR", h, text.encode())
        if close:
            raise Closing("after ERROR")

    def on_connect(self, f):
        a = self.b.args
        if self.connected:
            self.error("Already connected.", f)
        if "1.2" not in (f.get("accept-version") or "1.0").split(","):
            self.error("Supported protocol versions are 1.2", f)
        if a.login and (f.get("login"), f.get("passcode")) != \
                tuple(a.login.split(":", 1)):
            self.error("User name [%s] or password is invalid."
                       % f.get("login", "null"))
        cx, cy = (int(x) for x in (f.get("heart-beat") or "0,0").split(","))
        sx, sy = (int(x) for x in (a.heart_beat or "%d,%d" % (cy, cx)).split(","))
        self.tx_every = max(sx, cy) / 1000.0 if sx and cy else 0
        self.rx_every = max(cx, sy) / 1000.0 if cx and sy else 0
        self.connected = True
        self.frame("CONNECTED", [("version", "1.2"), ("heart-beat", "%d,%d" % (sx, sy)),
                                 ("server", "fake_broker/1"), ("session", "fb-%d" % self.n)])

    def handle(self, f):
        c, b = f.command, self.b
        if not self.connected and c not in ("CONNECT", "STOMP"):
            self.error("Not connected.", f)
        if c in ("CONNECT", "STOMP"):
            self.on_connect(f)
        elif c == "SEND":
            dest = f.get("destination")
            if not dest:
                return self.error("No destination", f, close=False)
            b.append(b.args.record, "%s %s" % (dest, f.body.hex()))
            with b.lock:
                b.add(dest, f.body)
            self.receipt(f)
            b.dispatch()
        elif c == "SUBSCRIBE":
            with b.lock:
                self.subs[f.get("id", "")] = (f.get("destination", ""),
                                              f.get("ack", "auto"))
            self.receipt(f)
            b.dispatch()
        elif c == "UNSUBSCRIBE":
            with b.lock:
                self.subs.pop(f.get("id", ""), None)
            self.receipt(f)
            b.release(self, f.get("id", ""))
        elif c in ("ACK", "NACK"):
            self.on_ack(f)
        elif c in ("BEGIN", "COMMIT", "ABORT"):
            self.log("%s: transactions are not implemented" % c)
            self.receipt(f)
        elif c == "DISCONNECT":
            self.receipt(f)
            raise Closing("DISCONNECT")
        else:
            self.error("Unknown STOMP action: %s" % c, f)

    def on_ack(self, f):
        ack, b = f.get("id"), self.b
        if ack == "ID:fb-big":          # the oversize mode's message
            return self.receipt(f)
        with b.lock:
            held = [m for m in b.msgs if m.holder and m.holder[0] is self]
            hit = [m for m in held if m.holder[2] == ack]
            if not hit:
                return self.error("Unexpected ACK received for message-id [%s]"
                                  % ack, f, close=False)
            sid = hit[0].holder[1]
            if self.subs.get(sid, ("", ""))[1] == "client":
                # Cumulative: everything delivered before it on that
                # subscription too.
                upto = int(ack.rsplit("-", 1)[1])
                hit = [m for m in held if m.holder[1] == sid and
                       int(m.holder[2].rsplit("-", 1)[1]) <= upto]
            for m in hit:
                b.append(b.args.acks, "%s %s %s" % (f.command, m.holder[2], m.id))
                m.holder, m.done = None, True
        self.receipt(f)

    def act(self):
        a, mode = self.b.args, self.mode
        self.log("mode %s acts" % mode)
        if mode == "error":
            self.error("fake_broker error mode", self.last)
        elif mode == "close":
            if a.rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
            raise Closing("close mode", graceful=False)
        elif mode == "silent":
            self.quiet = True
        elif mode == "malformed":
            sid = next(iter(self.subs), "0")
            self.send(MALFORMED[a.variant].replace(b"%s", sid.encode()))
            self.quiet = True
        elif mode == "oversize":
            sid = next(iter(self.subs), "0")
            dest = self.subs.get(sid, ("/queue/oversize", ""))[0]
            self.frame("MESSAGE", [("subscription", sid), ("message-id", "fb-big"),
                                   ("destination", dest), ("ack", "ID:fb-big")],
                       b"x" * (a.size + 1))

    def run(self):
        a = self.b.args
        self.log("accepted; mode %s" % self.mode)
        reader, counted, self.last = FrameReader(self.sock), 0, None
        graceful = True
        try:
            if self.mode != "good" and a.after == 0:
                self.act()
            while True:
                step = 0.5
                if self.tx_every and not self.quiet:
                    due = self.last_tx + self.tx_every - time.monotonic()
                    if due <= 0:
                        self.send(b"\n")
                        continue
                    step = min(step, due)
                f = reader.read(step)
                if f is None:
                    if self.rx_every and not self.quiet and \
                            time.monotonic() - reader.last_rx > 3 * self.rx_every:
                        raise Closing("no heart-beat from the client", False)
                    continue
                self.log("got %s" % f.command)
                if self.quiet:
                    continue
                self.last = f
                if self.mode != "good" and (not a.on or f.command == a.on):
                    counted += 1
                    if counted == a.after:
                        # error, close and silent replace the answer to
                        # this frame (a SEND is then not recorded), so a
                        # test can check that the client sends it again.
                        if self.mode in ("malformed", "oversize"):
                            self.handle(f)
                        self.act()
                        continue
                self.handle(f)
        except Closing as e:
            self.log("closing: %s" % e)
            graceful = e.graceful
        except EOFError:
            self.log("closed by the client")
        except ProtocolError as e:
            self.log("protocol error: %s" % e)
            self.quiet = False
            self.frame("ERROR", [("message", "protocol error")], str(e).encode())
        except OSError as e:
            self.log("socket error: %s" % e)
        finally:
            with self.b.lock:
                self.b.conns.remove(self)
                self.subs.clear()
            self.b.release(self)
            if graceful:
                # Half-close and drain, so the client reads our last frame
                # instead of a reset caused by unread input.
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                    self.sock.settimeout(1)
                    while self.sock.recv(65536):
                        pass
                except OSError:
                    pass
            self.sock.close()


class Closing(Exception):
    def __init__(self, why, graceful=True):
        super().__init__(why)
        self.graceful = graceful


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--mode", default="good", choices=(
        "good", "error", "close", "silent", "malformed", "oversize"))
    p.add_argument("--after", type=int, default=1)
    p.add_argument("--on", metavar="COMMAND")
    p.add_argument("--once", action="store_true")
    p.add_argument("--first", type=int, default=1 << 30)
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--variant", default="garbage", choices=sorted(MALFORMED))
    p.add_argument("--rst", action="store_true")
    p.add_argument("--heart-beat", metavar="SX,SY")
    p.add_argument("--login", metavar="U:P")
    p.add_argument("--record")
    p.add_argument("--deliver")
    p.add_argument("--acks")
    a = p.parse_args()
    if a.once:
        a.first = 1
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(16)
    a.port = srv.getsockname()[1]
    print(a.port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    broker = Broker(a)
    while True:
        sock, _ = srv.accept()
        with broker.lock:
            broker.nconn += 1
            conn = Conn(broker, sock, broker.nconn)
            broker.conns.append(conn)
        threading.Thread(target=conn.run, daemon=True).start()


if __name__ == "__main__":
    main()
