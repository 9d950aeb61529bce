#!/usr/bin/env python3
"""tests/progs/stomp_cli.py - an independent STOMP 1.2 client for the tests.

It is the "third party" that checks a bridge's wire format, so it is written
from the STOMP 1.2 specification alone (python3 standard library only) and
stays byte-exact: bodies are binary, framed by content-length, and printed
as hex.  It owns the frame codec (escape/unescape, FrameReader, encode) that
tests/progs/fake_broker.py imports too.

  stomp_cli.py --port P [--host H] [--login U --passcode W] [--vhost V]
               [--heart-beat CX,CY] [--timeout S] COMMAND ...
  ... send DEST [--file F|- | --hex HEX] [--header k:v]... [--persistent]
               [--receipt] [--count N]
  ... recv DEST [--count N] [--ack client-individual|client|auto] [--no-ack]
               [--prefetch N] [--header k:v]... [--out-dir D | --hex]
               [--show NAME|'*']... [--stop-on-header NAME[:VALUE]] [--drop]
  ... raw [--no-connect]   (stdin bytes go out verbatim; frames are dumped)

recv prints one line per MESSAGE: HEXBODY (or the file written under
--out-dir) then " name=value" for each --show header (value unescaped, then
percent-quoted), and ACKs it (--ack, default client-individual, so that
messages beyond --count stay queued).  --count 0 collects until the
timeout and succeeds; --no-ack never ACKs; --drop leaves without DISCONNECT.
Exit status: 0 ok, 1 timeout/too few messages, 2 ERROR frame or protocol
error, 3 cannot connect or the connection dropped.
"""
import argparse
import os
import select
import socket
import sys
import time
import urllib.parse

ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
UNESCAPES = {"\\": "\\", "r": "\r", "n": "\n", "c": ":"}
# The spec exempts these from value encoding, for STOMP 1.0 compatibility.
RAW_COMMANDS = ("CONNECT", "CONNECTED", "STOMP")


class ProtocolError(Exception):
    pass


def escape(s):
    return "".join(ESCAPES.get(c, c) for c in s)


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in UNESCAPES:
                # The spec makes an undefined escape a fatal error.
                raise ProtocolError("undefined escape in %r" % s)
            out.append(UNESCAPES[s[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Frame:
    def __init__(self, command, headers, body=b""):
        self.command = command
        self.headers = headers          # [(name, value)] in wire order
        self.body = body

    def get(self, name, default=None):
        # Repeated header: the spec says only the first one counts.
        for k, v in self.headers:
            if k == name:
                return v
        return default


def encode(command, headers, body=b"", length=True):
    """One frame; content-length is added for any non-empty body."""
    raw = command in RAW_COMMANDS
    out = [command.encode()]
    names = set()
    for k, v in headers:
        names.add(k)
        out.append(((k if raw else escape(k)) + ":" +
                    (str(v) if raw else escape(str(v)))).encode())
    if body and length and "content-length" not in names:
        out.append(b"content-length:%d" % len(body))
    return b"\n".join(out) + b"\n\n" + bytes(body) + b"\0"


class FrameReader:
    """Reads frames from a socket; a lone EOL between frames is a heart-beat."""

    def __init__(self, sock, max_frame=64 << 20):
        self.sock, self.buf, self.max_frame = sock, bytearray(), max_frame
        self.last_rx = time.monotonic()

    def _parse(self):
        buf = self.buf
        # EOLs between frames (heart-beats); a CR alone waits for its LF.
        while buf[:1] == b"\n" or buf[:2] == b"\r\n":
            del buf[:1 if buf[0] == 10 else 2]
        lines, pos = [], 0
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) > self.max_frame:
                    raise ProtocolError("header section too long")
                return None
            line = bytes(buf[pos:nl])
            pos = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                break
            lines.append(line)
        try:
            command = lines[0].decode("utf-8")
            headers = []
            for line in lines[1:]:
                k, sep, v = line.decode("utf-8").partition(":")
                if not sep:
                    raise ProtocolError("header without colon: %r" % line)
                if command not in RAW_COMMANDS:
                    k, v = unescape(k), unescape(v)
                headers.append((k, v))
        except UnicodeDecodeError as e:
            raise ProtocolError("headers are not UTF-8: %s" % e)
        frame = Frame(command, headers)
        clen = frame.get("content-length")
        if clen is not None:
            if not clen.isdigit():
                raise ProtocolError("bad content-length %r" % clen)
            n = int(clen)
            if n > self.max_frame:
                raise ProtocolError("content-length %d too big" % n)
            if len(buf) < pos + n + 1:
                return None
            if buf[pos + n] != 0:
                raise ProtocolError("no NUL after content-length bytes")
            end = pos + n
        else:
            end = buf.find(b"\0", pos)
            if end < 0:
                if len(buf) > self.max_frame:
                    raise ProtocolError("frame too long")
                return None
        frame.body = bytes(buf[pos:end])
        del buf[:end + 1]
        return frame

    def read(self, timeout):
        """The next frame; None on timeout; EOFError when the peer closed."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed by peer")
            self.last_rx = time.monotonic()
            self.buf += data


def fail(status, msg):
    print("stomp_cli: " + msg, file=sys.stderr)
    sys.exit(status)


def quote(v):
    return urllib.parse.quote(v, safe="/:@,;=+!$&'()*-._~")


def describe(frame):
    hdr = "".join(" %s=%s" % (k, quote(v)) for k, v in frame.headers)
    return "%s%s body=%s" % (frame.command, hdr, frame.body.hex())


class Client:
    def __init__(self, args):
        self.args = args
        try:
            self.sock = socket.create_connection((args.host, args.port),
                                                 timeout=args.timeout)
        except OSError as e:
            fail(3, "connect %s:%d: %s" % (args.host, args.port, e))
        self.sock.settimeout(None)
        self.reader = FrameReader(self.sock)
        self.tx_every = 0
        self.last_tx = time.monotonic()
        self.receipt_n = 0

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            fail(3, "send: %s" % e)
        self.last_tx = time.monotonic()

    def frame(self, command, headers, body=b""):
        self.send(encode(command, headers, body))

    def read(self, timeout):
        """Like FrameReader.read, but sends our heart-beats while waiting."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            step = deadline - now
            if self.tx_every:
                due = self.last_tx + self.tx_every - now
                if due <= 0:
                    self.send(b"\n")
                    continue
                step = min(step, due)
            try:
                frame = self.reader.read(max(step, 0))
            except (EOFError, OSError) as e:
                fail(3, str(e))
            except ProtocolError as e:
                fail(2, "protocol error: %s" % e)
            if frame is not None:
                if frame.command == "ERROR":
                    fail(2, "ERROR: %s\n%s" % (frame.get("message", ""),
                                               describe(frame)))
                return frame
            if time.monotonic() >= deadline:
                return None

    def connect(self):
        a = self.args
        h = [("accept-version", "1.2"), ("host", a.vhost or a.host),
             ("heart-beat", a.heart_beat)]
        if a.login is not None:
            h += [("login", a.login), ("passcode", a.passcode or "")]
        self.frame("CONNECT", h)
        f = self.read(a.timeout)
        if f is None or f.command != "CONNECTED":
            fail(2, "no CONNECTED: %s" % (describe(f) if f else "timeout"))
        cx = int(a.heart_beat.split(",")[0])
        sy = int((f.get("heart-beat") or "0,0").split(",")[1])
        # Spec: we beat every max(cx, sy) ms when both sides want beats.
        self.tx_every = max(cx, sy) / 1000.0 if cx and sy else 0

    def receipt(self, command, headers, body=b""):
        self.receipt_n += 1
        rid = "r-%d" % self.receipt_n
        self.frame(command, headers + [("receipt", rid)], body)
        deadline = time.monotonic() + self.args.timeout
        while True:
            f = self.read(max(deadline - time.monotonic(), 0))
            if f is None:
                fail(1, "no RECEIPT for %s %s" % (command, rid))
            if f.command == "RECEIPT" and f.get("receipt-id") == rid:
                return
            # A MESSAGE racing a DISCONNECT is redelivered later: drop it.

    def disconnect(self):
        self.receipt("DISCONNECT", [])
        self.sock.close()


def user_headers(pairs):
    out = []
    for p in pairs or []:
        k, sep, v = p.partition(":")
        if not sep:
            fail(2, "--header wants k:v, got %r" % p)
        out.append((k, v))
    return out


def cmd_send(a, c):
    if a.hex is not None:
        body = bytes.fromhex(a.hex)
    elif a.file == "-":
        body = sys.stdin.buffer.read()
    elif a.file:
        with open(a.file, "rb") as f:
            body = f.read()
    else:
        body = b""
    h = user_headers(a.header)
    names = {k for k, _ in h}
    for k, v in (("destination", a.dest),
                 ("content-type", "application/octet-stream"),
                 ("content-length", str(len(body)))):
        if k not in names:
            h.append((k, v))
    if a.persistent and "persistent" not in names:
        h.append(("persistent", "true"))
    for _ in range(a.count):
        if a.receipt:
            c.receipt("SEND", h, body)
        else:
            c.frame("SEND", h, body)
    c.disconnect()


def cmd_recv(a, c):
    h = [("id", "0"), ("destination", a.dest), ("ack", a.ack)]
    if a.prefetch is not None:
        # ActiveMQ reads the first, other brokers the second.
        h += [("activemq.prefetchSize", str(a.prefetch)),
              ("prefetch-count", str(a.prefetch))]
    c.frame("SUBSCRIBE", h + user_headers(a.header))
    got, deadline = 0, time.monotonic() + a.timeout
    while a.count == 0 or got < a.count:
        f = c.read(max(deadline - time.monotonic(), 0))
        if f is None:
            break
        if f.command != "MESSAGE":
            continue
        if a.stop_on_header:
            name, sep, value = a.stop_on_header.partition(":")
            v = f.get(name)
            if v is not None and (not sep or v == value):
                break
        got += 1
        if a.out_dir:
            path = os.path.join(a.out_dir, "msg-%04d.bin" % got)
            with open(path, "wb") as out:
                out.write(f.body)
            line = path
        else:
            line = f.body.hex()
        for name in a.show or []:
            pairs = f.headers if name == "*" else [(name, f.get(name))]
            line += "".join(" %s=%s" % (k, quote(v)) for k, v in pairs
                            if v is not None)
        print(line, flush=True)
        if a.ack != "auto" and not a.no_ack:
            c.frame("ACK", [("id", f.get("ack", ""))])
    if a.drop:
        c.sock.close()              # no DISCONNECT: like a crashed consumer
    else:
        c.disconnect()
    if a.count and got < a.count:
        fail(1, "got %d of %d messages within %ss" % (got, a.count, a.timeout))


def cmd_raw(a, c):
    c.send(sys.stdin.buffer.read())
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            f = c.reader.read(max(deadline - time.monotonic(), 0))
        except EOFError:
            print("EOF", flush=True)
            return
        except ProtocolError as e:
            fail(2, "protocol error: %s" % e)
        if f is None:
            return
        print(describe(f), flush=True)


def add_conn_opts(parser, suppress):
    def d(value):
        # In the subcommands' copy, SUPPRESS keeps an option given before
        # the command from being reset to its default.
        return argparse.SUPPRESS if suppress else value
    parser.add_argument("--host", default=d("127.0.0.1"))
    parser.add_argument("--port", type=int, default=d(None))
    parser.add_argument("--vhost", default=d(None),
                        help="CONNECT host header (default: --host)")
    parser.add_argument("--login", default=d(None))
    parser.add_argument("--passcode", default=d(None))
    parser.add_argument("--heart-beat", default=d("0,0"), help="CX,CY ms")
    parser.add_argument("--timeout", type=float, default=d(10.0))


def main():
    # Connection options go before or after the command: "recv D --timeout
    # 3" reads naturally.
    common = argparse.ArgumentParser(add_help=False)
    add_conn_opts(common, True)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_conn_opts(p, False)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub_kw = {"parents": [common]}
    s = sub.add_parser("send", **sub_kw)
    s.add_argument("dest")
    s.add_argument("--file")
    s.add_argument("--hex")
    s.add_argument("--header", action="append")
    s.add_argument("--persistent", action="store_true")
    s.add_argument("--receipt", action="store_true")
    s.add_argument("--count", type=int, default=1)
    r = sub.add_parser("recv", **sub_kw)
    r.add_argument("dest")
    r.add_argument("--count", type=int, default=1)
    # client-individual by default: a message the broker pushed beyond
    # --count is then not ACKed and comes again later; with auto it would
    # be acknowledged on dispatch and lost.
    r.add_argument("--ack", default="client-individual",
                   choices=("auto", "client", "client-individual"))
    r.add_argument("--no-ack", action="store_true")
    r.add_argument("--prefetch", type=int)
    r.add_argument("--header", action="append")
    r.add_argument("--out-dir")
    r.add_argument("--hex", action="store_true", help="the default")
    r.add_argument("--show", action="append")
    r.add_argument("--stop-on-header", metavar="NAME[:VALUE]")
    r.add_argument("--drop", action="store_true")
    w = sub.add_parser("raw", **sub_kw)
    w.add_argument("--no-connect", action="store_true")
    a = p.parse_args()
    if a.port is None:
        p.error("--port is required")
    c = Client(a)
    if not (a.cmd == "raw" and a.no_connect):
        c.connect()
    {"send": cmd_send, "recv": cmd_recv, "raw": cmd_raw}[a.cmd](a, c)


if __name__ == "__main__":
    main()
