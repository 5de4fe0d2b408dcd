#!/usr/bin/env python3
"""Hostile clients against a running stack (./osago up, or any core-app and
osago-aggregator on loopback): each attack runs for a bounded time with a
bounded number of sockets, while a normal client keeps asking, and the tool
prints what held. Attackers connect from 127.0.0.2 and up, the normal client
from 127.0.0.1, so that a per-address cap (listen.max_connections_per_address)
bites the attackers only.

  tests/tools/hostile_clients.py                       # the ./osago up ports
  tests/tools/hostile_clients.py --core http://127.0.0.1:8080 --aggregator http://127.0.0.1:8081
  tests/tools/hostile_clients.py --only slowloris,nested_json

Exit status 0 when every attack held, 1 otherwise. docs/security.md has a run.
"""
import argparse
import json
import os
import resource
import select
import socket
import statistics
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

MAX_SOCKETS = 10000  # the most any attack opens
MAX_SECONDS = 120  # the longest any attack lasts


class Target:
    def __init__(self, name, url):
        u = urllib.parse.urlparse(url)
        if u.hostname not in ("127.0.0.1", "localhost"):
            sys.exit(f"{name}: {url} is not on loopback; this tool attacks loopback only")
        self.name, self.url, self.port = name, url.rstrip("/"), u.port or 80


def connect(port, source="127.0.0.1", rcvbuf=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def ready(s, events, timeout=0.0):
    """Whether `s` is ready for `events` within `timeout` seconds (poll: descriptors past 1024 too)."""
    p = select.poll()
    p.register(s, events)
    return bool(p.poll(timeout * 1000))


def attacker_source(i):
    """127.0.0.2 … 127.0.0.250: many addresses, so 10,000 sockets need no more ports than each has."""
    return f"127.0.0.{2 + i % 249}"


def read_head(s, limit=5.0):
    """The head of the server's answer (what came before the close or the limit, if it sent no whole head)."""
    s.settimeout(0.2)
    data, until = b"", time.monotonic() + limit
    while b"\r\n\r\n" not in data and time.monotonic() < until:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(answer):
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.") and len(answer) >= 12 else 0


def http(target, method, path, body=None, token=None, headers=None):
    """One request as a normal client makes it: (status, JSON body or None, milliseconds)."""
    req = urllib.request.Request(target.url + path, method=method, data=None if body is None else body)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except OSError:
        status, raw = 0, b""
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return status, doc, (time.monotonic() - start) * 1000


class Probe(threading.Thread):
    """A normal client: GET /health/live on a new connection every 250 ms until stopped."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target, self.stop, self.results = target, threading.Event(), []

    def run(self):
        while not self.stop.is_set():
            self.results.append(http(self.target, "GET", "/health/live")[::2])
            self.stop.wait(0.25)

    def finish(self):
        self.stop.set()
        self.join()
        took = sorted(ms for _, ms in self.results) or [0]
        ok = sum(1 for status, _ in self.results if status == 200)
        return ok, len(self.results), statistics.median(took), took[-1]


def ws_frame(opcode, payload=b"", length=None, mask=b"\x11\x22\x33\x44"):
    n = len(payload) if length is None else length
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_open(core, path, token, rcvbuf=None):
    s = connect(core.port, rcvbuf=rcvbuf)
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{core.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            break
        head += c
    if status_of(head) != 101:
        s.close()
        raise RuntimeError(f"the WebSocket upgrade was answered {status_of(head)}")
    return s


def close_code(s, limit=5.0):
    """The status code of the close frame the server sends (reading past other frames), or None."""
    s.settimeout(0.5)
    data, until = b"", time.monotonic() + limit
    while time.monotonic() < until:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        while len(data) >= 2:
            opcode, n, at = data[0] & 0x0F, data[1] & 0x7F, 2
            if n == 126:
                n, at = struct.unpack(">H", data[2:4])[0], 4
            elif n == 127:
                n, at = struct.unpack(">Q", data[2:10])[0], 10
            if len(data) < at + n:
                break
            if opcode == 0x8:
                return struct.unpack(">H", data[at:at + 2])[0] if n >= 2 else 1005
            data = data[at + n:]
    return None


class Stack:
    def __init__(self, core, aggregator):
        self.core, self.aggregator = core, aggregator
        self.tokens = {}

    def token(self, user):
        if user not in self.tokens:
            status, doc, _ = http(self.core, "POST", "/api/dev/login", json.dumps({"userId": user}).encode())
            if status != 200 or not doc or "token" not in doc:
                raise RuntimeError(f"sign-in as {user} answered {status}: the tool needs auth.dev_login_enabled (./osago up has it)")
            self.tokens[user] = doc["token"]
        return self.tokens[user]

    def new_request(self, user):
        status, doc, _ = http(self.core, "POST", "/api/osago/requests", json.dumps(QUOTE).encode(), self.token(user))
        if status != 201:
            raise RuntimeError(f"a quote was answered {status}: {doc}")
        return doc["osagoRequestId"]

    def watch(self, user, seconds=75):
        """One quote read on its SSE stream: (seconds to its end or None, each live event's delay in ms from its making)."""
        request_id = self.new_request(user)
        s = connect(self.core.port, timeout=seconds)
        s.sendall((f"GET /api/osago/requests/{request_id}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer {self.token(user)}\r\nAccept: text/event-stream\r\n\r\n").encode())
        start, buf, delays = time.monotonic(), b"", []
        try:
            while time.monotonic() - start < seconds:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    message, buf = buf.split(b"\n\n", 1)
                    lines = message.decode("utf-8", "replace").split("\n")
                    kind = next((l[7:] for l in lines if l.startswith("event: ")), "")
                    data = "".join(l[6:] for l in lines if l.startswith("data: "))
                    if kind == "company":
                        try:
                            delays.append(time.time() * 1000 - json.loads(data)["occurredAtMs"])
                        except (ValueError, KeyError, TypeError):
                            pass
                    if kind == "end":
                        return time.monotonic() - start, delays
        except OSError:
            pass
        finally:
            s.close()
        return None, delays


def today_plus(days):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + days * 86400))


QUOTE = {
    "vehicle": {"category": "B", "make": "Toyota", "model": "Camry", "year": 2020, "enginePowerHp": 150,
                "vin": "XTA21099043765439", "plate": "А123ВЕ777"},
    "owner": {"lastName": "Иванов", "firstName": "Иван", "birthDate": "1980-06-12", "regionCode": "77"},
    "drivers": [{"lastName": "Иванов", "firstName": "Иван", "birthDate": "1980-06-12", "licenseSeries": "7712",
                 "licenseNumber": "345678", "experienceStartDate": "2005-05-20"}],
    "policy": {"startDate": today_plus(10), "usageMonths": 12, "multidrive": False},
}

# --- the attacks: each returns (held, what happened) --------------------------------------------


def slowloris(stack, args):
    lines, held = [], True
    for target in (stack.core, stack.aggregator):
        socks = []
        for i in range(args.slow_sockets):
            try:
                s = connect(target.port, attacker_source(i), timeout=2)
                s.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                s.setblocking(False)
                socks.append(s)
            except OSError:
                pass
        probe = Probe(target)
        probe.start()
        closed, until = set(), time.monotonic() + args.seconds
        while time.monotonic() < until:
            for k, s in enumerate(socks):
                if k in closed:
                    continue
                try:
                    if s.recv(4096) == b"":
                        closed.add(k)
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(k)
                    continue
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    closed.add(k)
            time.sleep(1)
        ok, asked, median, slowest = probe.finish()
        for s in socks:
            s.close()
        held &= ok == asked
        lines.append(f"{target.name}: {len(socks)} sockets trickling headers for {args.seconds} s, {len(closed)} closed by "
                     f"the server; a normal client {ok}/{asked} answered, median {median:.0f} ms, slowest {slowest:.0f} ms")
    return held, lines


def half_open(stack, args):
    lines, held = [], True
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for target in (stack.core, stack.aggregator):
        socks, failed = [], 0
        for i in range(min(args.half_open, MAX_SOCKETS, hard - 100)):
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.bind((attacker_source(i), 0))
                s.connect_ex(("127.0.0.1", target.port))  # the handshake; then nothing is ever sent
                socks.append(s)
            except OSError:
                failed += 1
        probe = Probe(target)
        probe.start()
        time.sleep(min(args.seconds, 10))
        ok, asked, median, slowest = probe.finish()
        # How many the server still holds open (it reads EOF or a reset when it let one go).
        still = 0
        for s in socks:
            try:
                if not ready(s, select.POLLIN):
                    still += 1
                elif s.recv(1, socket.MSG_PEEK) != b"":
                    still += 1
            except OSError:
                pass
            s.close()
        held &= ok == asked
        lines.append(f"{target.name}: {len(socks)} connections that send nothing ({failed} could not be made), {still} still "
                     f"open after {min(args.seconds, 10)} s; a normal client {ok}/{asked} answered, median {median:.0f} ms, "
                     f"slowest {slowest:.0f} ms")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return held, lines


def frame_flood(stack, args):
    calm_end, calm = stack.watch("hostile-watcher")
    request_id = stack.new_request("hostile-flooder")
    s = ws_open(stack.core, f"/api/osago/requests/{request_id}/ws", stack.token("hostile-flooder"))
    burst = ws_frame(0x9) * 8192  # empty masked pings, 6 bytes each
    stop, sent = threading.Event(), [0]

    def flood():
        s.setblocking(False)
        at = 0  # a partial send goes on where it stopped: the frames stay whole
        while not stop.is_set():
            try:
                n = s.send(burst[at:])
                sent[0] += n
                at = (at + n) % len(burst)
            except BlockingIOError:
                ready(s, select.POLLOUT, 0.1)
            except OSError:
                break

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    time.sleep(0.5)
    flood_end, flooded = stack.watch("hostile-watcher")
    stop.set()
    t.join()
    s.close()

    def p(d):
        return f"p50 {statistics.median(d):.0f} ms, max {max(d):.0f} ms" if d else "none"

    held = flood_end is not None and len(flooded) > 0
    return held, [f"{sent[0] // 6:,} empty pings from one client; a quote watched on another stream ended after "
                  f"{calm_end or 0:.1f} s without the flood, {flood_end or 0:.1f} s during it; its live events from their "
                  f"making: {p(calm)} without, {p(flooded)} during"]


def never_reads(stack, args):
    request_id = stack.new_request("hostile-never-reads")
    s = ws_open(stack.core, f"/api/osago/requests/{request_id}/ws", stack.token("hostile-never-reads"), rcvbuf=1)
    ping = ws_frame(0x9, b"p" * 125) * 128
    s.setblocking(False)
    sent, start, at = 0, time.monotonic(), 0
    while time.monotonic() - start < 1.0:
        try:
            n = s.send(ping[at:])
            sent += n
            at = (at + n) % len(ping)
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            break
    # The server should let it go after streams.write_stall_ms (30 s by default): wait for its close.
    dropped_after = None
    limit = args.write_stall + 10
    while time.monotonic() - start < limit:
        try:
            n = s.send(ping[at:at + 131] if at else ping[:131])  # one more whole ping (its rest first)
            at = (at + n) % len(ping)
        except BlockingIOError:
            pass
        except OSError:
            dropped_after = time.monotonic() - start
            break
        time.sleep(0.5)
    s.close()
    held = dropped_after is not None
    return held, [f"{sent // 131:,} largest pings from a client that reads nothing: "
                  + (f"the server closed it after {dropped_after:.1f} s" if held else f"still open after {limit:.0f} s")]


def oversized_headers(stack, args):
    lines, held = [], True
    for target in (stack.core, stack.aggregator):
        for size in (16 * 1024, 1024 * 1024):
            s = connect(target.port, attacker_source(7))
            try:
                s.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
            except OSError:
                pass
            status = status_of(read_head(s))
            s.close()
            alive = http(target, "GET", "/health/live")[0] == 200
            ok = status in (0, 400, 431) and alive
            held &= ok
            lines.append(f"{target.name}: a {size // 1024} KiB header answered {status or 'by a close'}; "
                         f"the service {'answers' if alive else 'does NOT answer'} after it")
    return held, lines


def ws_frames(stack, args):
    lines, held = [], True
    cases = [
        ("a 64-bit length with its top bit set", ws_frame(0x2, length=1 << 63), {1002}),
        ("a 1 TiB binary frame announced", ws_frame(0x2, length=1 << 40), {1009, 1003}),
        ("a text frame that is not UTF-8", ws_frame(0x1, b"\xff\xfe\xc0\x80"), {1007, 1003}),
        ("a reserved opcode", ws_frame(0x3, b"x"), {1002}),
    ]
    for name, frame, expected in cases:
        request_id = stack.new_request("hostile-frames")
        s = ws_open(stack.core, f"/api/osago/requests/{request_id}/ws", stack.token("hostile-frames"))
        s.sendall(frame)
        code = close_code(s)
        s.close()
        held &= code in expected
        lines.append(f"{name}: closed with {code}")
    return held, lines


def bad_json(stack, args):
    lines, held = [], True
    token = stack.token("hostile-json")
    bad_name = json.dumps(QUOTE, ensure_ascii=False).encode().replace("Иванов".encode(), b"\xd0\xff\xfe", 1)
    status, doc, _ = http(stack.core, "POST", "/api/osago/requests", bad_name, token)
    held &= status == 400
    lines.append(f"core-app: a quote whose owner's name is not UTF-8 answered {status} {json.dumps(doc, ensure_ascii=False)[:160]}")
    limit = 64 * 1024
    for target, path, tok in ((stack.core, "/api/osago/requests", token), (stack.aggregator, "/osago/requests", None)):
        deep = b"[" * (limit // 2) + b"]" * (limit // 2)
        start = time.monotonic()
        status, doc, _ = http(target, "POST", path, deep, tok)
        took = (time.monotonic() - start) * 1000
        alive = http(target, "GET", "/health/live")[0] == 200
        # The aggregator asks for a service token first: its 401 holds too.
        ok = status in (400, 401) and alive
        held &= ok
        code = (doc or {}).get("error", "") if isinstance(doc, dict) else ""
        lines.append(f"{target.name}: {limit // 1024} KiB of nested arrays answered {status} {code} in {took:.0f} ms; "
                     f"the service {'answers' if alive else 'does NOT answer'} after it")
    return held, lines


ATTACKS = [("slowloris", slowloris), ("half_open", half_open), ("frame_flood", frame_flood),
           ("never_reads", never_reads), ("oversized_headers", oversized_headers), ("ws_frames", ws_frames),
           ("bad_json", bad_json)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--core", default="http://127.0.0.1:" + os.environ.get("OSAGO_CORE_PORT", "8080"))
    p.add_argument("--aggregator", default="http://127.0.0.1:" + os.environ.get("OSAGO_AGGREGATOR_PORT", "8081"))
    p.add_argument("--only", default="", help="comma-separated attacks: " + ", ".join(n for n, _ in ATTACKS))
    p.add_argument("--seconds", type=int, default=15, help="how long the slowloris lasts (at most 120)")
    p.add_argument("--slow-sockets", type=int, default=600, help="slowloris sockets per service (at most 10000)")
    p.add_argument("--half-open", type=int, default=10000, help="connections that send nothing, per service (at most 10000)")
    p.add_argument("--write-stall", type=float, default=30, help="the core-app's streams.write_stall_ms, in seconds")
    args = p.parse_args()
    args.seconds = max(1, min(args.seconds, MAX_SECONDS))
    args.slow_sockets = max(1, min(args.slow_sockets, MAX_SOCKETS))
    args.write_stall = max(1.0, min(args.write_stall, MAX_SECONDS))
    stack = Stack(Target("core-app", args.core), Target("osago-aggregator", args.aggregator))
    chosen = [a for a in ATTACKS if not args.only or a[0] in args.only.split(",")]
    failed = []
    for name, attack in chosen:
        started = time.monotonic()
        try:
            held, lines = attack(stack, args)
        except Exception as e:  # an attack that cannot run is a failure, with its reason
            held, lines = False, [f"could not run: {e}"]
        print(f"{'HELD  ' if held else 'FAILED'} {name} ({time.monotonic() - started:.0f} s)")
        for line in lines:
            print("         " + line)
        sys.stdout.flush()
        if not held:
            failed.append(name)
    print("every attack held" if not failed else "did not hold: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
