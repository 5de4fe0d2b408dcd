#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into tests/fuzz/corpus/<target>/ from
the unit tests' bodies, the bundled plugins' recorded partner answers, the
packaged configuration and manifests, and a few hand-made frames. Seeds are
named by their content (seed-<sha1>), so running it again adds only what is
new; inputs of fixed crashes (crash-*) are kept beside them by hand."""
import base64, copy, hashlib, hmac, json, os, re, struct
sep = "\n=====\n"
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
corpus = os.path.join(root, "tests/fuzz/corpus")

def put(target, data):
    if isinstance(data, str): data = data.encode()
    d = os.path.join(corpus, target); os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    open(os.path.join(d, name), "wb").write(data)

def raw_strings(path):
    src = open(os.path.join(root, path), encoding="utf-8").read()
    return [m.group(1) for m in re.finditer(r'R"\((.*?)\)"', src, re.S)]

# quote_input: the unit tests' bodies and a full valid body
for s in raw_strings("tests/unit/quote_input_test.cpp"):
    if s.lstrip().startswith("{"): put("quote_input", s)
good_quote = '''{"vehicle":{"category":"B","make":"Toyota","model":"Camry","year":2020,"enginePowerHp":150,
 "vin":"XTA21099043765439","plate":"а123ве777"},
 "owner":{"lastName":"Иванов","firstName":"Иван","middleName":"Иванович","birthDate":"1980-06-12","regionCode":"77"},
 "drivers":[{"lastName":"Иванов","firstName":"Иван","birthDate":"1980-06-12","licenseSeries":"7712","licenseNumber":"345678","experienceStartDate":"2005-05-20"}],
 "policy":{"startDate":"2026-12-15","usageMonths":12,"multidrive":false}}'''
put("quote_input", good_quote)
put("quote_input", good_quote.replace('"multidrive":false', '"multidrive":true').replace('"drivers":[', '"drivers":[],"x":['))
put("quote_input", '{"vehicle":{"year":1e999}}')
put("quote_input", "[" * 70 + "]" * 70)


q = json.loads(good_quote)
def variant(path, value):
    v = copy.deepcopy(q); o = v
    for k in path[:-1]: o = o[k]
    o[path[-1]] = value
    put("quote_input", json.dumps(v, ensure_ascii=False))
variant(["vehicle","year"], "2020"); variant(["vehicle","enginePowerHp"], 10**30)
variant(["owner","lastName"], "Ива\u0301нов-Петров"); variant(["vehicle","vin"], "XTA21099043765439X")
variant(["policy","usageMonths"], 2.5); variant(["drivers"], [q["drivers"][0]] * 6)
variant(["owner","regionCode"], None); variant(["vehicle","plate"], "a123be 777")
put("quote_input", good_quote.replace("Иванов", "\xff\xfe").encode("latin-1", "replace") if False else good_quote.encode().replace("Иванов".encode(), b"\xd0\xff"))
put("service_config", "quotes:\n  deadline_secnds: 60\n" + sep + "HTTP_PORT=99999\n")
put("service_config", "http: [1, 2]\nkafka: {brokers: 5}\n" + sep + "KAFKA_BROKERS=\nDB_DSN=host=127.0.0.1\n")
put("service_config", "a: &x [*x]\n")

# ws_frames: a masked text frame, ping, close, 16-bit and 64-bit lengths, unmasked
def wsf(op, payload, mask=b"\x01\x02\x03\x04", fin=True, masked=True, force64=False):
    b = bytes([(0x80 if fin else 0) | op])
    n = len(payload); m = 0x80 if masked else 0
    if force64: b += bytes([m | 127]) + struct.pack(">Q", n)
    elif n < 126: b += bytes([m | n])
    elif n <= 0xFFFF: b += bytes([m | 126]) + struct.pack(">H", n)
    else: b += bytes([m | 127]) + struct.pack(">Q", n)
    if masked:
        b += mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    else: b += payload
    return b
put("ws_frames", b"\x05" + wsf(1, b'{"type":"ping"}') + wsf(9, b"ping!") + wsf(10, b"") + wsf(8, b"\x03\xe8bye"))
put("ws_frames", b"\x00" + wsf(2, b"y" * 200) + wsf(1, b"x" * 300))
put("ws_frames", b"\x10" + wsf(1, b"hi", force64=True) + wsf(1, b"\xff\xfe not utf-8"))
put("ws_frames", b"\x02" + wsf(1, b"part", fin=False) + wsf(0, b"ial"))
put("ws_frames", b"\x03" + wsf(1, b"unmasked", masked=False))
put("ws_frames", b"\x01" + bytes([0x81, 0xFF]) + b"\x7f" + b"\xff" * 7 + b"\x00" * 4)
put("ws_frames", b"\x07" + wsf(9, b"p" * 126))

# http_request: request heads as browsers and tools send them
heads = [
 "GET /api/osago/requests/8cc57448-c622-472f-a80c-399650811143/events?lastEventId=12 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer eyJ.a.b\r\nLast-Event-ID: 7\r\n\r\n",
 "GET /api/osago/requests/x/ws?fromSeq=3&token=abc HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: osago_token=t1; other=2\r\n\r\n",
 "POST /api/osago/requests HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nIdempotency-Key: k-1\r\n\r\n{}",
 "GET /osago/requests?lastEventId=%zz&fromSeq=-5 HTTP/1.1\r\nHost: a\r\n\r\n",
 "GET /a/../b?fromSeq=99999999999999999999 HTTP/1.1\r\nLast-Event-ID:  12abc\r\nAuthorization: Basic xyz\r\n\r\n",
 "GET http://host:80/x%2Fy?a=1&&b HTTP/1.0\r\n\r\n",
]
for h in heads: put("http_request", h)

# tokens: a forged token, then header/payload pairs the target signs
put("tokens", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.bad" + sep + '{"alg":"HS256","typ":"JWT"}' + sep + '{"sub":"user-1","iat":1795797660,"exp":4102444800,"aud":"osago-core"}')
put("tokens", "a.b" + sep + '{"alg":"HS256"}' + sep + '{"sub":"core-app","svc":"core-app","aud":["osago-aggregator"],"exp":4102444800}')
put("tokens", "" + sep + '{"alg":"none"}' + sep + '{"sub":5,"exp":"soon"}')
put("tokens", "..." + sep + '{"alg":"HS256"}' + sep + '{"exp":1e308,"iat":-1,"sub":""}')

# quote_event: the events core-app consumes
for s in raw_strings("tests/unit/outside_documents_test.cpp"):
    if '"eventId"' in s or '"seq"' in s: put("quote_event", s)
ev = {"v":1,"eventId":"7d2a08b6-54f3-41f3-92f0-bbda889f6172","type":"quote.company-status","osagoRequestId":"8cc57448-c622-472f-a80c-399650811143","seq":7,"companyId":"severny-shchit","companyName":"Северный щит","status":"COMPLETED","offer":{"premium":{"amount":"1.00","currency":"RUB"}},"requestStatus":"IN_PROGRESS","occurredAtMs":1795797660820}
put("quote_event", json.dumps(ev, ensure_ascii=False))
ev2 = dict(ev, type="quote.request-status", status=None, requestStatus="COMPLETED", seq=9); ev2.pop("status"); ev2.pop("offer")
put("quote_event", json.dumps(ev2, ensure_ascii=False))
ev3 = dict(ev, status="DECLINED", offer=None, declineReason="DRIVER_TOO_YOUNG"); ev3.pop("offer")
put("quote_event", json.dumps(ev3, ensure_ascii=False))

# service_config: the packaged configs, with overrides
for f, env in [("packaging/debian/config/osago-aggregator.yaml", "HTTP_PORT=8081\nDB_POOL_SIZE=8\n"),
               ("packaging/debian/config/osago-core-app.yaml", "HTTP_PORT=x\nJWT_SECRET=\n")]:
    text = open(os.path.join(root, f), encoding="utf-8").read()
    put("service_config", text)
    put("service_config", text + sep + env)
for s in raw_strings("tests/unit/core_config_test.cpp") + raw_strings("tests/unit/aggregator_config_test.cpp"):
    put("service_config", s)

# plugin_manifest: the bundled manifests and the tests' ones
for p in ("polisnet", "garant", "volna"):
    put("plugin_manifest", open(os.path.join(root, f"plugins/{p}/manifest.yaml"), encoding="utf-8").read())
put("plugin_manifest", "companies:\n  - {id: acme, name: Акме, call_timeout_ms: 99999999, max_concurrent_calls: 0, settings: {baseUrl: \"${OSAGO_SECRET_ACME_BASE_URL}\"}, secrets: {apiKey: \"${OSAGO_SECRET_ACME_API_KEY:-x}\"}}\n")
put("plugin_manifest", "companies: {id: x}\n")
put("plugin_manifest", "companies:\n  - id: &a a\n    name: *a\n    settings: [1, 2]\n")

# plugin_outcome
for s in raw_strings("tests/unit/plugin_outcome_test.cpp"):
    if s.lstrip().startswith("{"): put("plugin_outcome", s)
put("plugin_outcome", '{"v":1,"outcome":"DECLINED","reason":"' + "Ж" * 40 + '"}')
put("plugin_outcome", '{"v":1,"outcome":"PENDING","externalId":"' + "я" * 200 + '","retryAfterMs":99999999999}')

# worker_frames: what a worker writes
def frame(t, call, *fields):
    body = b""
    for f in fields:
        if isinstance(f, int): body += struct.pack("<I", 8) + struct.pack("<q", f)
        else:
            f = f.encode() if isinstance(f, str) else f
            body += struct.pack("<I", len(f)) + f
    return struct.pack("<I", len(body)) + bytes([t]) + struct.pack("<Q", call) + body
put("worker_frames", b"\x0c" + frame(10, 0, "polisnet", "PolisNet", "1.2.0", 1, 0) + frame(12, 0, 2, "loaded"))
put("worker_frames", b"\x01" + frame(13, 5, "POST", "https://127.0.0.1:8093/x/applications", 2, "Content-Type", "application/json", "X-Api-Key", "k", '{"a":1}', 5000)
    + frame(14, 5, 0, 1, '{"v":1,"outcome":"PENDING","externalId":"a"}', ""))
put("worker_frames", b"\x07" + frame(14, 6, 99, 3, "{}", "odd") + frame(16, 6, 59) + frame(15, 6, 11) + frame(11, 0, "dlopen failed"))
put("worker_frames", b"\x02" + frame(13, 7, "GET", "u", 1000000, "", 900000) + frame(14, 7, 0, -4, "", "", 100000))
put("worker_frames", b"\x03" + struct.pack("<I", 0xFFFFFFFF) + bytes([14]) + b"\x00" * 8)

# each plugin: the answer sequences of its unit tests
for p in ("polisnet", "garant", "volna"):
    src = open(os.path.join(root, f"plugins/{p}/tests/{p}_insurer_test.cpp"), encoding="utf-8").read()
    for block in re.split(r"\nTEST(?:_F)?\(", src)[1:]:
        answers = []
        for m in re.finditer(r'respond\((\d+),\s*(R"\((.*?)\)"|"((?:[^"\\]|\\.)*)")(?:,\s*"([^"]*)")?\)', block, re.S):
            body = m.group(3) if m.group(3) is not None else bytes(m.group(4), "utf-8").decode("unicode_escape")
            head = m.group(1) + (" " + m.group(5) if m.group(5) else "")
            answers.append(head + "\n" + body)
        if answers: put(f"plugin_{p}", sep.join(answers))
for t in sorted(os.listdir(corpus)):
    print(t, len(os.listdir(os.path.join(corpus, t))))
