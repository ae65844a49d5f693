#!/bin/bash
# Benchmark of the trace store with 1M spans: generates realistic traces
# (20 services, 100 operations, 5-30 spans per trace, ~3% with an error,
# starting over the last 50 minutes, posted in time order), posts them as OTLP JSON to
# `aiopslab __traces` (2 posters, ~8 MB bodies), then times the Jaeger
# queries the UI and the agents use, each against a reference in the same
# run: the same SQL straight on the database with Python's sqlite3 (the
# floor: no HTTP, no JSON), and a full-scan variant (NOT INDEXED) that
# shows what the indexes buy. Prints ingestion rate, DB size and per-query
# median / p90 / max. Usage: BUILD=build bench/traces.sh [SPANS] [REPEAT]
# (KEEP=1 leaves the store running with its data, for a closer look;
# ORDER=random posts traces in random time order instead of as they happen.)
#
# `bench/traces.sh ingest [SPANS] [BATCH]` measures the cpu the store spends
# per span instead: it posts SPANS spans (default 140,000) shaped like the
# kit's export of SocialNetwork read-home-timeline requests (7 spans over
# nginx-thrift, home-timeline-service and post-storage-service, the kit's
# attributes), BATCH spans per request (default 512, the kit's batch), one
# keep-alive connection per service as the kits do, paced at RATE spans/s
# in all (default 21000: 3,000 requests/s, issue 3's target; RATE=0 posts
# as fast as the store accepts), and reads the store's
# user+system time from /proc/PID/task/*/stat before and after: total cpu
# per span, the writer thread's share (SQLite) and the rest (HTTP, parse).
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BIN=${TRACES_BIN:-$BUILD/aiopslab}
NET=${TRACES_BENCH_NET:-142}
MODE=query
if [ "${1:-}" = ingest ]; then MODE=ingest; shift; fi
SPANS=${1:-1000000}
REPEAT=${2:-30}
for c in curl python3; do command -v $c >/dev/null || { echo "bench/traces.sh: $c is missing"; exit 1; }; done
D=$(mktemp -d /tmp/aiopslab-traces-bench.XXXXXX)
TPID=
cleanup() {
    if [ -n "${KEEP:-}" ]; then echo "KEEP: trace store pid $TPID, data in $D"; return; fi
    [ -n "$TPID" ] && kill "$TPID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
mkdir -p "$D/lab" "$D/bodies"
echo "{\"name\":\"tracesbench\",\"net\":$NET}" >"$D/lab/lab.json"

if [ "$MODE" = ingest ]; then
    "$BIN" __traces --lab-dir "$D/lab" >"$D/traces.out" 2>&1 &
    TPID=$!
    python3 - "$TPID" "http://127.$NET.0.1" "${1:-140000}" "${2:-512}" "${RATE:-21000}" <<'PY'
import http.client, json, os, random, sys, threading, time, urllib.request
pid, base, total, batch, rate = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
host = base[len("http://"):]
rnd = random.Random(42)
tick = os.sysconf("SC_CLK_TCK")

def metric(name):
    with urllib.request.urlopen(base + ":16686/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "): return int(line.split()[1])
    return 0

for _ in range(100):
    try:
        metric("traces_spans_stored_total"); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("bench/traces.sh ingest: the trace store did not start")

def cpu():
    """user+system seconds of the writer thread and of all other threads."""
    w = o = 0.0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f: st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        f = st[st.rindex(")") + 2:].split()
        v = (int(f[11]) + int(f[12])) / tick
        if comm == "trace-writer": w += v
        else: o += v
    return w, o

# One read-home-timeline request as the kit exports it: 7 spans, 3 services.
def attrs(*kv): return [{"key": k, "value": {"stringValue": v}} for k, v in kv]
def span(tid, parent, name, kind, start, dur, a):
    s = {"traceId": tid, "spanId": "%016x" % rnd.getrandbits(64), "name": name, "kind": kind,
         "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + dur), "attributes": a, "status": {}}
    if parent: s["parentSpanId"] = parent["spanId"]
    return s
per_svc = {"nginx-thrift": [], "home-timeline-service": [], "post-storage-service": []}
now = time.time_ns() - 60 * 10**9
for r in range(total // 7):
    tid = "%032x" % rnd.getrandbits(128)
    t0 = now + r * 300000
    uid = rnd.randrange(962)
    target = "/wrk2-api/home-timeline/read?user_id=%d&start=0&stop=10" % uid
    a = span(tid, None, "GET /wrk2-api/home-timeline/read", 2, t0, 3000000,
             attrs(("http.method", "GET"), ("http.target", target), ("http.status_code", "200")))
    b = span(tid, a, "POST home-timeline-service /ReadHomeTimeline", 3, t0 + 100000, 2700000,
             attrs(("http.method", "POST"), ("http.url", "http://home-timeline-service:9090/ReadHomeTimeline"),
                   ("peer.service", "home-timeline-service"), ("http.status_code", "200")))
    c = span(tid, b, "POST /ReadHomeTimeline", 2, t0 + 200000, 2500000,
             attrs(("http.method", "POST"), ("http.target", "/ReadHomeTimeline"), ("http.status_code", "200")))
    d = span(tid, c, "redis ZREVRANGE", 3, t0 + 250000, 300000, attrs(("db.system", "redis"), ("db.operation", "ZREVRANGE")))
    e = span(tid, c, "POST post-storage-service /ReadPosts", 3, t0 + 600000, 1900000,
             attrs(("http.method", "POST"), ("http.url", "http://post-storage-service:9090/ReadPosts"),
                   ("peer.service", "post-storage-service"), ("http.status_code", "200")))
    f = span(tid, e, "POST /ReadPosts", 2, t0 + 700000, 1700000,
             attrs(("http.method", "POST"), ("http.target", "/ReadPosts"), ("http.status_code", "200")))
    g = span(tid, f, "memcached get", 3, t0 + 750000, 400000,
             attrs(("db.system", "memcached"), ("db.operation", "get"), ("db.memcached.keys", "10")))
    per_svc["nginx-thrift"] += [a, b]
    per_svc["home-timeline-service"] += [c, d, e]
    per_svc["post-storage-service"] += [f, g]
bodies, n = {}, 0
for svc, spans in per_svc.items():
    n += len(spans)
    res = {"attributes": attrs(("service.name", svc), ("k8s.pod.name", svc + "-6d5f9c7b8-x2x4q"),
                               ("k8s.pod.ip", "127.42.1.%d" % (len(bodies) + 2)))}
    bodies[svc] = [json.dumps({"resourceSpans": [{"resource": res, "scopeSpans": [
        {"scope": {"name": "aiopslab-kit"}, "spans": spans[i:i + batch]}]}]}, separators=(",", ":")).encode()
        for i in range(0, len(spans), batch)]
nbytes = sum(len(b) for v in bodies.values() for b in v)
print("ingest: %d spans in %d OTLP requests of up to %d spans (%.1f MB, %.0f bytes/span), 3 connections, %s"
      % (n, sum(len(v) for v in bodies.values()), batch, nbytes / 1e6, nbytes / n,
         "%.0f spans/s" % rate if rate > 0 else "unpaced"))

fails = []
def poster(items, spans):
    """Post one service's bodies on one connection; paced, its spans/s are its share of RATE."""
    c = http.client.HTTPConnection(host, 4318, timeout=60)
    t_next = time.perf_counter()
    for body in items:
        if rate > 0:
            t_next += body.count(b'"spanId"') / (rate * spans / n)
            time.sleep(max(0, t_next - time.perf_counter()))
        c.request("POST", "/v1/traces", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200: fails.append(r.status)
        r.read()
    c.close()
w0, o0 = cpu()
t0 = time.perf_counter()
threads = [threading.Thread(target=poster, args=(bodies[svc], len(per_svc[svc]))) for svc in bodies]
for t in threads: t.start()
for t in threads: t.join()
t1 = time.perf_counter()
while metric("traces_spans_stored_total") + metric("traces_spans_dropped_total") < n:
    time.sleep(0.02)
t2 = time.perf_counter()
w1, o1 = cpu()
if fails: sys.exit("bench/traces.sh ingest: %d posts failed: %s" % (len(fails), sorted(set(fails))))
stored, dropped = metric("traces_spans_stored_total"), metric("traces_spans_dropped_total")
print("stored %d, dropped %d; %.2f s to accept, %.2f s until stored (%.0f spans/s)" % (stored, dropped, t1 - t0, t2 - t0, n / (t2 - t0)))
print("cpu per span: %.1f us total = %.1f us writer thread (SQLite) + %.1f us other threads (HTTP, OTLP parse)"
      % ((w1 - w0 + o1 - o0) * 1e6 / n, (w1 - w0) * 1e6 / n, (o1 - o0) * 1e6 / n))
PY
    rc=$?
    du -cb "$D/lab/traces/"traces.db* | tail -1 | awk -v n="${1:-140000}" '{printf "database: %.0f bytes/span\n", $1/n}'
    exit $rc
fi

echo "generating $SPANS spans..."
python3 - "$D/bodies" "$SPANS" "${ORDER:-time}" <<'PY'
import json, random, sys, time
out, total = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
services = ["frontend", "search", "geo", "rate", "profile", "reservation", "user", "recommendation",
            "memcached-rate", "memcached-profile", "mongodb-geo", "mongodb-rate", "compose-post",
            "home-timeline", "user-timeline", "post-storage", "social-graph", "media", "url-shorten", "text"]
ops = {s: ["%s /%s/%d" % (rnd.choice(["GET", "POST"]), s, i) if i < 2 else "%s.op%d" % (s, i) for i in range(5)]
       for s in services}
now = time.time_ns()
window = 50 * 60 * 10**9
per_body = 15000  # ~7 MB of JSON: under the receiver's 8 MiB bound
body, n, files, traces = {}, 0, 0, 0
def flush():
    global body, files
    if not body: return
    rs = [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": s}},
                                       {"key": "k8s.pod.name", "value": {"stringValue": s + "-7d9f8-0"}}]},
           "scopeSpans": [{"scope": {"name": "kit"}, "spans": sp}]} for s, sp in body.items()]
    with open("%s/%04d.json" % (out, files), "w") as f:
        json.dump({"resourceSpans": rs}, f, separators=(",", ":"))
    files += 1
    body = {}
count = 0
order = "random" if len(sys.argv) > 3 and sys.argv[3] == "random" else "time"
while n < total:
    size = min(rnd.randint(5, 30), total - n)
    tid = "%032x" % rnd.getrandbits(128)
    # traces arrive in time order (as from a live app), with jitter; ORDER=random scatters them
    start = now - rnd.randrange(window) if order == "random" else \
        now - window + window * n // total + rnd.randrange(10**9)
    err_at = rnd.randrange(size) if rnd.random() < 0.03 else -1
    spans = []
    for i in range(size):
        if i == 0:
            svc, parent, s0, dur = "frontend", None, start, int(rnd.lognormvariate(17, 1.0))  # median ~24 ms
        else:
            p = spans[rnd.randrange(len(spans))]
            svc, parent = rnd.choice(services), p
            s0 = p["s"] + rnd.randrange(max(1, p["d"] // 2))
            dur = max(1000, min(p["d"] - (s0 - p["s"]), int(rnd.lognormvariate(15, 1.2))))
        sid = "%016x" % rnd.getrandbits(64)
        spans.append({"s": s0, "d": dur, "id": sid})
        code = 500 if i == err_at else 200
        span = {"traceId": tid, "spanId": sid, "parentSpanId": parent["id"] if parent else "",
                "name": rnd.choice(ops[svc]), "kind": 2 if i == 0 or rnd.random() < 0.5 else 3,
                "startTimeUnixNano": str(s0), "endTimeUnixNano": str(s0 + dur),
                "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}},
                               {"key": "http.status_code", "value": {"intValue": str(code)}},
                               {"key": "net.peer.name", "value": {"stringValue": svc}},
                               {"key": "user.id", "value": {"intValue": str(rnd.randrange(1000))}}],
                "status": {"code": 2, "message": "internal error"} if i == err_at else {"code": 0}}
        body.setdefault(svc, []).append(span)
        n += 1
        count += 1
    if count >= per_body:
        flush()
        count = 0
flush()
PY
du -sh "$D/bodies" | awk '{print "OTLP JSON to post: " $1}'

"$BIN" __traces --lab-dir "$D/lab" --max-spans $((SPANS * 2)) --max-queue $((SPANS + 1)) >"$D/traces.out" 2>&1 &
TPID=$!
Q=http://127.$NET.0.1:16686
for _ in $(seq 50); do curl -s -m 2 -o /dev/null "$Q/api/services" && break; sleep 0.1; done
if [ "$(cat "$D/lab/traces/traces.pid" 2>/dev/null)" != "$TPID" ] || ! kill -0 "$TPID" 2>/dev/null; then
    echo "bench/traces.sh: the trace store did not start:"
    cat "$D/traces.out" "$D/lab/logs/traces.log" 2>/dev/null
    exit 1
fi
metric() { curl -s -m 5 "$Q/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
t0=$(date +%s.%N)
ls "$D"/bodies/*.json | xargs -P 2 -I{} curl -s -m 300 -o /dev/null -w '%{http_code}\n' -X POST \
    -H 'Content-Type: application/json' --data-binary @{} "http://127.$NET.0.1:4318/v1/traces" >"$D/codes"
t1=$(date +%s.%N)
if grep -qv '^200$' "$D/codes"; then
    echo "bench/traces.sh: some posts failed: $(sort "$D/codes" | uniq -c | tr '\n' ' ')"
    exit 1
fi
while [ "$(metric traces_spans_stored_total)" -lt "$SPANS" ] 2>/dev/null; do
    [ "$(( $(metric traces_spans_stored_total) + $(metric traces_spans_dropped_total) ))" -ge "$SPANS" ] && break
    sleep 0.05
done
t2=$(date +%s.%N)
echo "posts: $(sort "$D/codes" | uniq -c | tr '\n' ' ')"
echo "stored $(metric traces_spans_stored_total), dropped $(metric traces_spans_dropped_total), rejected $(metric traces_spans_rejected_total)"
python3 -c "import sys; a,b,c=map(float,sys.argv[1:4]); n=int(sys.argv[4]); print('ingestion: %.1f s to accept (%.0f spans/s), %.1f s until stored (%.0f spans/s)' % (b-a, n/(b-a), c-a, n/(c-a)))" "$t0" "$t1" "$t2" "$SPANS"
echo "database: $(du -ch "$D/lab/traces/"traces.db* | tail -1 | cut -f1) for $SPANS spans ($(du -cb "$D/lab/traces/"traces.db* | tail -1 | awk -v n="$SPANS" '{printf "%.0f", $1/n}') bytes/span)"

python3 - "$Q" "$D/lab/traces/traces.db" "$REPEAT" <<'PY'
import json, random, sqlite3, statistics, sys, time, urllib.request, urllib.parse
Q, db_path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(7)
db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
services = json.load(urllib.request.urlopen(Q + "/api/services"))["data"]
ops = {s: json.load(urllib.request.urlopen(Q + "/api/services/%s/operations" % urllib.parse.quote(s)))["data"]
       for s in services}
ids = [r[0] for r in db.execute("SELECT t.trace_id FROM spans s JOIN traces t ON t.id = s.trace"
                               " WHERE s.id % 997 = 0 LIMIT 200")]
now_us = time.time_ns() // 1000
look = 3600 * 10**6

def api(params):
    t = time.perf_counter()
    with urllib.request.urlopen(Q + params) as r:
        body = json.load(r)
    return (time.perf_counter() - t) * 1000, body

def sql(where, args, indexed=True):
    """The same query on SQLite directly: matching trace ids (newest first,
    stop at 20 distinct), then their spans."""
    t = time.perf_counter()
    cur = db.execute("SELECT trace FROM spans %s WHERE %s ORDER BY start_us DESC"
                     % ("" if indexed else "NOT INDEXED", where), args)
    seen = []
    for (tid,) in cur:
        if tid not in seen:
            seen.append(tid)
            if len(seen) == 20: break
    cur.close()
    for tid in seen:
        db.execute("SELECT * FROM spans %s WHERE trace = ?" % ("" if indexed else "NOT INDEXED"), (tid,)).fetchall()
    return (time.perf_counter() - t) * 1000, len(seen)

cases = []
def case(name, make):
    cases.append((name, make))
def svc(): return rnd.choice(services)
case("service, lookback 1h, limit 20", lambda s=None: (
    (lambda s: ("/api/traces?service=%s&lookback=1h&limit=20" % s,
                "service = ? AND start_us >= ? AND start_us <= ?", (s, now_us - look, now_us + 10**9)))(svc())))
case("service + operation", lambda: (
    (lambda s, o: ("/api/traces?service=%s&operation=%s&lookback=1h&limit=20" % (s, urllib.parse.quote(o)),
                   "service = ? AND operation = ? AND start_us >= ? AND start_us <= ?", (s, o, now_us - look, now_us + 10**9)))
    (*(lambda s: (s, rnd.choice(ops[s])))(svc()))))
case("tags error=true", lambda: (
    (lambda s: ("/api/traces?service=%s&lookback=1h&limit=20&tags=%s" % (s, urllib.parse.quote('{"error":"true"}')),
                "service = ? AND start_us >= ? AND start_us <= ? AND error = 1", (s, now_us - look, now_us + 10**9)))(svc())))
case("tag http.status_code=500", lambda: (
    (lambda s: ("/api/traces?service=%s&lookback=1h&limit=20&tags=%s" % (s, urllib.parse.quote('{"http.status_code":"500"}')),
                "service = ? AND start_us >= ? AND start_us <= ? AND instr(tags, '\"value\":500') > 0", (s, now_us - look, now_us + 10**9)))(svc())))
case("minDuration 200ms", lambda: (
    (lambda s: ("/api/traces?service=%s&lookback=1h&limit=20&minDuration=200ms" % s,
                "service = ? AND start_us >= ? AND start_us <= ? AND duration_us >= 200000", (s, now_us - look, now_us + 10**9)))(svc())))
case("trace by id", lambda: (
    (lambda t: ("/api/traces/" + t, "trace = (SELECT id FROM traces WHERE trace_id = ?)", (t,)))(rnd.choice(ids))))

def stats(v):
    v = sorted(v)
    return "%7.2f %7.2f %7.2f" % (statistics.median(v), v[int(len(v) * 0.9) - 1 if len(v) > 1 else 0], v[-1])

print("\nquery latency in ms over %d runs each (median p90 max); reference: same SQL via Python sqlite3 on the same DB" % repeat)
print("%-28s | %-23s | %-23s | %-23s | %s" % ("query", "aiopslab HTTP API", "sqlite3 direct (index)", "sqlite3 NOT INDEXED", "traces found"))
for name, make in cases:
    a, s_ix, s_full, found = [], [], [], []
    for i in range(repeat):
        url, where, args = make()
        ms, body = api(url)
        a.append(ms)
        found.append(len(body["data"] or []))
        s_ix.append(sql(where, args)[0])
        if i < 3: s_full.append(sql(where, args, indexed=False)[0])
    print("%-28s | %s | %s | %s | %.1f avg" % (name, stats(a), stats(s_ix), stats(s_full), sum(found) / len(found)))
t, _ = api("/api/services"); print("%-28s | %7.2f" % ("/api/services", t))
t, _ = api("/api/services/search/operations"); print("%-28s | %7.2f" % ("/api/services/search/operations", t))
t, _ = api("/api/stats?lookback=15m"); print("%-28s | %7.2f (traces summary, one run)" % ("/api/stats lookback 15m", t))
PY
