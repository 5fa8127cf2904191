#!/usr/bin/env bash
# Load test of every list route and list page (issue 20): `portus serve` (release build) on
# 127.0.0.1 with a fresh store of TAGS tags, each with a scan record, then `wrk --latency` on each
# route; prints a Markdown table (p50, p99, requests/s, ratio to a trivial route).
#
#   scripts/bench-lists.sh                                # 100,000 tags on SQLite, 10 s per route
#   TAGS=2000 DURATION=3 scripts/bench-lists.sh           # quick run
#   STORE=postgres scripts/bench-lists.sh                 # on a throw-away PostgreSQL cluster
#
# Variables: TAGS (100000; a multiple of 10: TAGS/10 repositories of 10 tags), STORE (sqlite or
# postgres), DURATION (seconds of wrk per route, 10; longer for slow routes, see below),
# MAX_DURATION (120), NAMESPACES (100), USERS (100), BATCH (events per notification envelope,
# 500), SCAN_CONCURRENCY (security.concurrency, 16), SAMPLE (repositories sampled for
# per-repository routes, 1000), APPLY_TIMEOUT / SCAN_TIMEOUT (seconds to wait for the events to
# be applied / for every tag to be scanned, 1800 each), ROUTES (an extended regular expression:
# only the routes whose name matches, besides the trivial one), KEEP=1 (keep the work directory
# under /tmp, and the PostgreSQL cluster). Needs wrk, docker-registry, curl, python3 (and PostgreSQL for STORE=postgres):
# scripts/install-test-deps.sh installs them. At 100,000 tags the work directory takes about
# 1.5 GB and a run about 17 minutes on 2 cores (10,000 tags: 5.5 minutes).
#
# How the store is made, all through the paths a production server uses:
# - an administrator `bench` (CLI, as the README's first step), then through the REST API with
#   its application token: a team `bench-team` with USERS/2 of the USERS users as members,
#   NAMESPACES namespaces owned by the team (every tenth public), 19 more tokens of `bench`
#   (20 is the most a user may have);
# - the tags through the registry notification endpoint (`POST /v2/webhooks/events`, the secret
#   of `portus config registry`): Distribution push envelopes of BATCH events each (id,
#   timestamp, action, target with mediaType/size/digest/length/repository/url/tag, request,
#   actor, source). Repository r is `ns<r mod NAMESPACES>/app<r div NAMESPACES>`, tags v0..v9,
#   every tag its own manifest digest;
# - the scan records by the background scan worker of `portus serve` with the dummy scanner.
#   The worker reads each manifest from the registry before scanning (without `registry.url`
#   nothing is ever scanned), so the script runs Debian's `docker-registry` on a storage tree it
#   writes (the manifests of the notifications, one shared layer and config blob; writing files
#   takes seconds where pushing 100,000 images would take hours), with portus as its token
#   server and no notifications of its own (its pull events would only add load). The worker
#   fetches each manifest by digest with a service-account token, as in production;
#   SCAN_CONCURRENCY digests at a time instead of the default 8 to shorten the wait;
# - the administrator stars 20 repositories (for /api/v1/stars and the dashboard).
# The events are applied and the tags scanned while the rest is seeded; the script waits until
# `X-Total` of /api/v1/tags equals TAGS and until the repositories' `tags_by_status` count TAGS
# tags `done`, or fails after the timeout with what it saw.
#
# Measurement: the server is restarted on the seeded store with `security.interval_secs` at one
# day, so the worker's background pass (which reads every tag and record every 10 s by default)
# does not run during the measurement, and the registry is idle. Each route is first asked alone
# (its first path, the best of 3 unless that takes over 2 s; the "alone" column, also the check
# that it answers 200), then gets `wrk -t2 -c4 -dD --timeout D --latency` with
# scripts/bench-lists.lua, which picks a random
# path from the route's list (every page of a paginated list, or SAMPLE repositories). D is
# DURATION, or 10 times the time alone when that is longer (at most MAX_DURATION): wrk only
# counts requests that finish within D, and a route taking seconds per request must still be
# measured, not cut off (the table gives the number of requests behind each p99). API routes
# authenticate with the administrator's application token (Bearer), pages with a web session
# signed in through the sign-in form. The trivial route (`/api/v1/version`) measured in the same
# run is the machine's limit; the ratio column is its requests/s divided by the route's. wrk
# shares the machine's cores with the server. The script exits non-zero if any request failed
# (not 2xx, socket error, timeout) or a route finished no request at all, and the table shows
# the count per route.
set -euo pipefail
cd "$(dirname "$0")/.."
TAGS=${TAGS:-100000} STORE=${STORE:-sqlite} DURATION=${DURATION:-10} MAX_DURATION=${MAX_DURATION:-120}
NAMESPACES=${NAMESPACES:-100} USERS=${USERS:-100} BATCH=${BATCH:-500} SCAN_CONCURRENCY=${SCAN_CONCURRENCY:-16}
SAMPLE=${SAMPLE:-1000} APPLY_TIMEOUT=${APPLY_TIMEOUT:-1800} SCAN_TIMEOUT=${SCAN_TIMEOUT:-1800} ROUTES=${ROUTES:-}
[ $(( TAGS % 10 )) -eq 0 ] && [ "$TAGS" -ge 10 ] || { echo "bench-lists: TAGS must be a positive multiple of 10" >&2; exit 2; }
REPOS=$(( TAGS / 10 ))
DURATION=${DURATION%s} MAX_DURATION=${MAX_DURATION%s}
[[ "$DURATION" =~ ^[0-9]+$ && "$MAX_DURATION" =~ ^[0-9]+$ ]] || { echo "bench-lists: DURATION and MAX_DURATION are seconds" >&2; exit 2; }
[ "$NAMESPACES" -le "$REPOS" ] || NAMESPACES=$REPOS
case "$STORE" in sqlite | postgres) ;; *) echo "bench-lists: STORE must be sqlite or postgres" >&2; exit 2 ;; esac
for tool in wrk docker-registry curl python3; do
  command -v "$tool" > /dev/null || { echo "bench-lists: needs $tool (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
done

started=$(date +%s)
cargo build --release --locked --quiet --bin portus
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
PORTUS=$target_dir/release/portus
LUA=$PWD/scripts/bench-lists.lua

work=$(mktemp -d /tmp/portus-bench-lists.XXXXXX)
pg_dir="" registry_pid="" serve_pid=""
stop_serve() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2> /dev/null || true; wait "$serve_pid" 2> /dev/null || true; fi
  serve_pid=""
}
cleanup() {
  local status=$?
  log "cleaning up"
  if [ "$status" -ne 0 ] && [ -s "$work/serve.log" ]; then
    echo "bench-lists: failed; the end of the server log:" >&2
    tail -n 20 "$work/serve.log" >&2
  fi
  stop_serve
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2> /dev/null || true; wait "$registry_pid" 2> /dev/null || true; fi
  if [ -n "$pg_dir" ]; then
    ./scripts/test-postgres.sh stop "$pg_dir"
    if [ "${KEEP:-0}" = 1 ]; then
      echo "bench-lists: kept the PostgreSQL cluster $pg_dir (scripts/test-postgres.sh resume $pg_dir; the URL is in $work/portus.toml)" >&2
    else
      rm -rf "$pg_dir"
    fi
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "bench-lists: kept $work" >&2; else rm -rf "$work"; fi
  log "done"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench-lists: nothing answers at $1" >&2
  return 1
}
log() { echo "bench-lists: [$(( $(date +%s) - started )) s] $*" >&2; }

# The helper: storage tree, seeding, waiting, sign-in, the routes' paths, the report.
cat > "$work/helper.py" << 'PY'
import hashlib, http.client, json, math, os, random, re, sys, time, urllib.parse

def fail(message):
    sys.exit("bench-lists: " + message)

def repo_name(r, namespaces):
    return f"ns{r % namespaces:03d}/app{r // namespaces:04d}"

class Http:
    """One kept-alive connection; reconnects when the server closed it."""
    def __init__(self, base, headers=None):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.headers = headers or {}
        self.conn = None
    def request(self, method, path, body=None, headers=None):
        all_headers = dict(self.headers, **(headers or {}))
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                self.conn.request(method, path, body, all_headers)
                response = self.conn.getresponse()
                return response.status, response.headers, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
    def json(self, method, path, body=None, expect=(200, 201)):
        data = None if body is None else json.dumps(body).encode()
        status, headers, text = self.request(method, path, data, {"Content-Type": "application/json"} if data else {})
        if status not in expect:
            fail(f"{method} {path} answered {status}: {text[:300].decode(errors='replace')}")
        return headers, (json.loads(text) if text else None)

def api(base, token):
    return Http(base, {"Authorization": "Bearer " + token})

def storage(root, repos, namespaces, tsv):
    """A Distribution filesystem storage tree holding one manifest per tag."""
    v2 = os.path.join(root, "docker/registry/v2")
    def write(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    def put_blob(data):
        digest = hashlib.sha256(data).hexdigest()
        write(os.path.join(v2, "blobs/sha256", digest[:2], digest, "data"), data)
        return digest, len(data)
    layer, layer_size = put_blob(b"bench-lists layer\n")
    config_body = json.dumps({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer]}}).encode()
    config, config_size = put_blob(config_body)
    with open(tsv, "w") as out:
        for r in range(repos):
            name = repo_name(r, namespaces)
            base = os.path.join(v2, "repositories", name)
            for blob in (layer, config):
                write(os.path.join(base, "_layers/sha256", blob, "link"), f"sha256:{blob}".encode())
            for t in range(10):
                tag = f"v{t}"
                manifest = json.dumps({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": "sha256:" + config, "size": config_size},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": "sha256:" + layer, "size": layer_size}],
                    # What makes every tag's manifest (and digest) its own.
                    "annotations": {"org.opencontainers.image.ref.name": f"{name}:{tag}"},
                }).encode()
                digest, size = put_blob(manifest)
                link = f"sha256:{digest}".encode()
                write(os.path.join(base, "_manifests/revisions/sha256", digest, "link"), link)
                # No tags/<tag>/index/ links: only deleting a tag reads them, and a million
                # small files more take minutes to write and to remove.
                write(os.path.join(base, "_manifests/tags", tag, "current/link"), link)
                out.write(f"{name}\t{tag}\tsha256:{digest}\t{size}\n")

def seed(base, token, secret, tsv, namespaces, users, batch, registry_host):
    """The team, users, namespaces and tokens through the REST API, then every tag through the
    registry notification endpoint."""
    a = api(base, token)
    _, team = a.json("POST", "/api/v1/teams", {"name": "bench-team", "description": "bench-lists"})
    roles = ["viewer", "contributor", "owner"]
    for n in range(users):
        _, user = a.json("POST", "/api/v1/users", {"username": f"user{n:04d}", "email": f"user{n:04d}@example.org"})
        if n < users // 2:
            a.json("POST", f"/api/v1/teams/{team['id']}/members", {"user": user["username"], "role": roles[n % 3]})
    for n in range(namespaces):
        a.json("POST", "/api/v1/namespaces", {"name": f"ns{n:03d}", "team": "bench-team",
                                               "visibility": "public" if n % 10 == 0 else "private"})
    _, everyone = a.json("GET", "/api/v1/users?all=true")
    admin = next(u for u in everyone if u["username"] == "bench")
    for n in range(19):  # 20 with the script's own: the most a user may have
        a.json("POST", f"/api/v1/users/{admin['id']}/application_tokens", {"application": f"bench{n:02d}"})

    hook = Http(base, {"Authorization": "Bearer " + secret,
                       "Content-Type": "application/vnd.docker.distribution.events.v1+json"})
    rows = [line.rstrip("\n").split("\t") for line in open(tsv)]
    sent = 0
    for start in range(0, len(rows), batch):
        events = []
        for i, (repository, tag, digest, size) in enumerate(rows[start:start + batch], start):
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"
            events.append({
                "id": f"bench-lists-{i:07d}",
                "timestamp": now,
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "size": int(size), "digest": digest, "length": int(size),
                    "repository": repository,
                    "url": f"http://{registry_host}/v2/{repository}/manifests/{digest}",
                    "tag": tag,
                },
                "request": {"id": f"req-{i:07d}", "addr": "127.0.0.1:40000", "host": registry_host,
                            "method": "PUT", "useragent": "bench-lists"},
                "actor": {"name": "bench"},
                "source": {"addr": registry_host, "instanceID": "bench-lists"},
            })
        status, _, text = hook.request("POST", "/v2/webhooks/events", json.dumps({"events": events}).encode())
        if status != 200:
            fail(f"the notification endpoint answered {status}: {text[:300].decode(errors='replace')}")
        accepted = json.loads(text).get("accepted")
        if accepted != len(events):
            fail(f"the notification endpoint accepted {accepted} of {len(events)} events")
        sent += len(events)
    print(sent)

def total(a, path):
    status, headers, text = a.request("GET", path)
    if status != 200:
        fail(f"GET {path} answered {status}: {text[:300].decode(errors='replace')}")
    return int(headers["X-Total"])

def wait_tags(base, token, tags, timeout):
    a = api(base, token)
    start, last, seen = time.monotonic(), 0.0, -1
    while True:
        seen = total(a, "/api/v1/tags?per_page=1")
        if seen == tags:
            return
        if seen > tags:
            fail(f"/api/v1/tags counts {seen} tags, more than the {tags} sent")
        elapsed = time.monotonic() - start
        if elapsed > timeout:
            fail(f"after {timeout} s only {seen} of {tags} pushed tags are applied (X-Total of /api/v1/tags)")
        if elapsed - last >= 15:
            print(f"bench-lists:   {seen} of {tags} tags applied", file=sys.stderr)
            last = elapsed
        time.sleep(3)  # not more often: counting is work for the server too

def wait_scans(base, token, tags, timeout):
    a = api(base, token)
    start, last = time.monotonic(), 0.0
    while True:
        _, repositories = a.json("GET", "/api/v1/repositories?all=true")
        counts = {}
        for repository in repositories:
            for status, n in repository["security"]["tags_by_status"].items():
                counts[status] = counts.get(status, 0) + n
        done = counts.get("done", 0)
        elapsed = time.monotonic() - start
        if done == tags:
            print(f"{elapsed:.0f}")
            return
        if elapsed > timeout:
            fail(f"after {timeout} s only {done} of {tags} tags are scanned (tags_by_status over "
                 f"/api/v1/repositories: {counts}); the server log says why")
        if elapsed - last >= 15:
            print(f"bench-lists:   tags by scan status: {counts}", file=sys.stderr)
            last = elapsed
        time.sleep(10)  # listing every repository is work for the server too

def sign_in(base, username, password):
    """A web session through the sign-in form (double-submit CSRF cookie)."""
    h = Http(base)
    status, headers, body = h.request("GET", "/sign_in")
    csrf_cookie = re.search(r"portus_csrf=([^;]+)", headers.get("Set-Cookie", ""))
    csrf_field = re.search(rb'name="csrf" value="([^"]+)"', body)
    if status != 200 or not csrf_cookie or not csrf_field:
        fail(f"GET /sign_in answered {status} without the CSRF cookie and field")
    form = urllib.parse.urlencode({"csrf": csrf_field.group(1).decode(), "username": username, "password": password})
    status, headers, body = h.request("POST", "/sign_in", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "portus_csrf=" + csrf_cookie.group(1)})
    cookies = " ".join(headers.get_all("Set-Cookie") or [])
    session = re.search(r"portus_session=([^;]+)", cookies)
    if status != 303 or not session:
        fail(f"signing in answered {status} without a session cookie")
    print("portus_session=" + session.group(1))

def paths(base, token, cookie, out, sample_size, tags):
    """Stars 20 repositories, then writes one file of paths per route and routes.tsv
    (number, name, api|web, file); checks that each route answers 200 to its first path."""
    a = api(base, token)
    _, repositories = a.json("GET", "/api/v1/repositories?all=true")
    _, namespaces = a.json("GET", "/api/v1/namespaces?all=true")
    _, teams = a.json("GET", "/api/v1/teams?all=true")
    _, users = a.json("GET", "/api/v1/users?all=true")
    team = next(t for t in teams if t["name"] == "bench-team")
    admin = next(u for u in users if u["username"] == "bench")
    rng = random.Random(20)
    sample = rng.sample(repositories, min(sample_size, len(repositories)))
    for repository in sample[:20]:
        a.json("PUT", f"/api/v1/repositories/{repository['id']}/star", expect=(204,))
    tag_ids = []
    for repository in sample[:50]:
        _, listed = a.json("GET", f"/api/v1/repositories/{repository['id']}/tags?per_page=50")
        tag_ids += [t["id"] for t in listed]
    per_namespace = {}
    for repository in repositories:
        per_namespace[repository["namespace_id"]] = per_namespace.get(repository["namespace_id"], 0) + 1
    bench_namespaces = [n for n in namespaces if re.fullmatch(r"ns\d{3,}", n["name"])]
    pages = lambda count, per_page=50: range(1, max(1, math.ceil(count / per_page)) + 1)
    activity_pages = int(a.request("GET", "/api/v1/activities?per_page=50")[1]["X-Total-Pages"])
    queries = []
    for repository in sample[:100]:
        namespace, name = repository["name"].split("/")
        queries += [name, namespace, repository["name"]]
    q = lambda text: urllib.parse.quote(text, safe="")
    public = {n["name"] for n in namespaces if n["visibility"] == "public"}
    routes = [
        ("GET /api/v1/version (trivial)", "api", ["/api/v1/version"]),
        ("GET /api/v1/repositories?per_page=50&page=N", "api",
         [f"/api/v1/repositories?per_page=50&page={p}" for p in pages(len(repositories))]),
        ("GET /api/v1/namespaces?per_page=50&page=N", "api",
         [f"/api/v1/namespaces?per_page=50&page={p}" for p in pages(len(namespaces))]),
        ("GET /api/v1/namespaces/{id}/repositories?per_page=50&page=N", "api",
         [f"/api/v1/namespaces/{n['id']}/repositories?per_page=50&page={p}"
          for n in bench_namespaces for p in pages(per_namespace.get(n["id"], 0))]),
        ("GET /api/v1/repositories/{id}/tags", "api",
         [f"/api/v1/repositories/{r['id']}/tags?per_page=50" for r in sample]),
        ("GET /api/v1/repositories/{id}/tags/grouped", "api",
         [f"/api/v1/repositories/{r['id']}/tags/grouped" for r in sample]),
        ("GET /api/v1/tags?per_page=50&page=N", "api",
         [f"/api/v1/tags?per_page=50&page={p}" for p in pages(tags)]),
        ("GET /api/v1/teams?per_page=50&page=N", "api",
         [f"/api/v1/teams?per_page=50&page={p}" for p in pages(len(teams))]),
        ("GET /api/v1/teams/{id}/members", "api", [f"/api/v1/teams/{team['id']}/members"]),
        ("GET /api/v1/teams/{id}/namespaces", "api", [f"/api/v1/teams/{team['id']}/namespaces"]),
        ("GET /api/v1/users?per_page=50&page=N", "api",
         [f"/api/v1/users?per_page=50&page={p}" for p in pages(len(users))]),
        ("GET /api/v1/users/{id}/application_tokens", "api", [f"/api/v1/users/{admin['id']}/application_tokens"]),
        ("GET /api/v1/activities?per_page=50&page=N", "api",
         [f"/api/v1/activities?per_page=50&page={p}" for p in range(1, activity_pages + 1)]),
        ("GET /api/v1/search?q=...", "api", [f"/api/v1/search?q={q(text)}" for text in queries]),
        ("GET /api/v1/repositories?q=...", "api", [f"/api/v1/repositories?q={q(text)}&per_page=50" for text in queries]),
        ("GET /api/v1/stars", "api", ["/api/v1/stars"]),
        ("page / (dashboard)", "web", ["/"]),
        ("page /namespaces?page=N", "web", [f"/namespaces?page={p}" for p in pages(len(namespaces))]),
        ("page /namespaces/{id}?page=N (its repositories)", "web",
         [f"/namespaces/{n['id']}?page={p}" for n in bench_namespaces for p in pages(per_namespace.get(n["id"], 0))]),
        ("page /repositories/{id} (its tags)", "web", [f"/repositories/{r['id']}" for r in sample]),
        ("page /tags/{id}", "web", [f"/tags/{t}" for t in tag_ids]),
        ("page /search?q=...", "web", [f"/search?q={q(text)}" for text in queries]),
        ("page /repositories?page=N", "web", [f"/repositories?page={p}" for p in pages(len(repositories))]),
        ("page /explore?page=N (signed out)", "anonymous",
         [f"/explore?page={p}" for p in pages(sum(1 for r in repositories if r["namespace"]["name"] in public))]),
        ("page /teams", "web", ["/teams"]),
        ("page /teams/{id}", "web", [f"/teams/{team['id']}"]),
        ("page /admin/users?page=N", "web", [f"/admin/users?page={p}" for p in pages(len(users))]),
        ("page /tokens", "web", ["/tokens"]),
    ]
    web = Http(base, {"Cookie": cookie})
    anonymous = Http(base, {})
    with open(os.path.join(out, "routes.tsv"), "w") as index:
        for number, (name, kind, route_paths) in enumerate(routes):
            client = {"api": a, "web": web, "anonymous": anonymous}[kind]
            client.request("GET", "/api/v1/_ping")  # the connection is open before the clock starts
            times = []
            while len(times) < 3 and sum(times) < 2:  # the best of 3 where that is cheap
                start = time.monotonic()
                status, _, body = client.request("GET", route_paths[0])
                times.append(time.monotonic() - start)
                if status != 200:
                    break
            alone = min(times)
            if status != 200:
                fail(f"{name}: GET {route_paths[0]} answered {status}: {body[:300].decode(errors='replace')}")
            file = os.path.join(out, f"route{number:02d}.paths")
            with open(file, "w") as f:
                f.write("\n".join(route_paths) + "\n")
            index.write(f"{number}\t{name}\t{kind}\t{file}\t{alone:.4f}\n")

def millis(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}[unit]

def show_ms(ms):
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"

def report(out):
    rows, failed, trivial = [], [], None
    for line in open(os.path.join(out, "routes.tsv")):
        number, name, _, _, alone = line.rstrip("\n").split("\t")
        alone = show_ms(float(alone) * 1000)
        result = os.path.join(out, f"route{int(number):02d}.wrk")
        if not os.path.exists(result):
            continue  # left out by ROUTES
        text = open(result).read()
        seconds = re.search(r"^Running (\S+) test", text, re.M)
        p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
        p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
        rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
        count = re.search(r"^\s*(\d+) requests in", text, re.M)
        ours = re.search(r"^bench-lists: non-2xx (\d+) \((.*)\)", text, re.M)
        if not (seconds and p50 and p99 and rate and count and ours):
            failed.append(f"{name}: wrk gave no result:\n{text}")
            rows.append((name, alone, "-", "-", "-", "-", "-", "wrk failed"))
            continue
        errors = int(ours.group(1))
        sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        if sockets:
            errors += sum(int(n) for n in sockets.groups())
        requests, rps, took = int(count.group(1)), float(rate.group(1)), seconds.group(1).replace("s", " s")
        shown_errors = str(errors)
        if errors:
            kinds = [ours.group(2)] if ours.group(2) else []
            if sockets and any(int(n) for n in sockets.groups()):
                kinds.append(sockets.group(0))
            shown_errors += " (" + "; ".join(kinds) + ")"
            failed.append(f"{name}: {errors} of {requests} requests failed: " + "; ".join(kinds))
        if requests == 0:
            failed.append(f"{name}: no request finished within {took} (one alone took {alone})")
            rows.append((name, alone, f"0 in {took}", "-", "-", "-", "-", shown_errors))
            continue
        if trivial is None:
            trivial = rps
        ratio = f"{trivial / rps:,.0f}" if rps else "-"
        rows.append((name, alone, f"{requests:,} in {took}", show_ms(millis(p50.group(1))),
                     show_ms(millis(p99.group(1))), f"{rps:,.1f}", ratio, shown_errors))
    print("| route | alone | requests | p50 | p99 | req/s | trivial/route req/s | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for message in failed:
        print("bench-lists: FAILED: " + message, file=sys.stderr)
    sys.exit(1 if failed else 0)

commands = {"storage": lambda root, repos, ns, tsv: storage(root, int(repos), int(ns), tsv),
            "seed": lambda base, token, secret, tsv, ns, users, batch, reg: seed(base, token, secret, tsv, int(ns), int(users), int(batch), reg),
            "wait-tags": lambda base, token, tags, timeout: wait_tags(base, token, int(tags), float(timeout)),
            "wait-scans": lambda base, token, tags, timeout: wait_scans(base, token, int(tags), float(timeout)),
            "sign-in": sign_in,
            "paths": lambda base, token, cookie, out, sample, tags: paths(base, token, cookie, out, int(sample), int(tags)),
            "report": report}
commands[sys.argv[1]](*sys.argv[2:])
PY
helper() { python3 "$work/helper.py" "$@"; }

# The store.
if [ "$STORE" = postgres ]; then
  pg_dir=$(mktemp -d /tmp/portus-bench-lists-pg.XXXXXX)
  chmod 755 "$pg_dir"
  database_url=$(./scripts/test-postgres.sh start "$pg_dir")
  log "PostgreSQL started"
fi
port=$(free_port) reg_port=$(free_port)
base=http://127.0.0.1:$port
{
  printf 'listen = "127.0.0.1:%s"\n' "$port"
  printf '[token]\nservice = "registry.bench"\n'
  printf '[registry]\nurl = "http://127.0.0.1:%s"\n' "$reg_port"
  # No periodic catalog sync: it would list 100,000 manifests from the registry meanwhile.
  printf '[sync]\ninterval_secs = 0\n'
  printf '[security]\nconcurrency = %s\n' "$SCAN_CONCURRENCY"
  printf '[security.dummy]\nserver = "builtin"\n'
  if [ "$STORE" = postgres ]; then printf '[database]\nurl = "%s"\n' "$database_url"; fi
} > "$work/portus.toml"
P() { PORTUS_LOG=${PORTUS_LOG:-warn} "$PORTUS" --config "$work/portus.toml" --data-dir "$work/data" "$@"; }

# The registry the scan worker reads the manifests from.
log "writing the registry storage: $REPOS repositories x 10 tags"
t=$(date +%s)
helper storage "$work/storage" "$REPOS" "$NAMESPACES" "$work/tags.tsv"
storage_secs=$(( $(date +%s) - t ))
{
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$work/storage"
  printf '  cache:\n    blobdescriptor: inmemory\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' "$reg_port"
  # Only the token authentication: the script sends the notifications itself.
  registry_config=$(P config registry)
  printf '%s\n' "${registry_config%%notifications:*}"
} > "$work/registry.yml"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
wait_http "http://127.0.0.1:$reg_port/v2/"

password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" | P user create bench --admin --password-stdin > /dev/null
token=$(P token create bench --name bench-lists | tail -1)
start_serve() {
  # Not through P: $! must be the server itself, for stop_serve.
  PORTUS_LOG=${PORTUS_LOG:-warn} "$PORTUS" --config "$work/portus.toml" --data-dir "$work/data" serve >> "$work/serve.log" 2>&1 &
  serve_pid=$!
  wait_http "$base/api/v1/_ping"
}
start_serve
log "portus serve on $base ($STORE), registry on 127.0.0.1:$reg_port"

t0=$(date +%s)
sent=$(helper seed "$base" "$token" "$(cat "$work/data/webhook.secret")" "$work/tags.tsv" "$NAMESPACES" "$USERS" "$BATCH" "127.0.0.1:$reg_port")
posted_secs=$(( $(date +%s) - t0 ))
log "$sent push events accepted by the notification endpoint in $posted_secs s (with the API seeding)"
helper wait-tags "$base" "$token" "$TAGS" "$APPLY_TIMEOUT"
applied_secs=$(( $(date +%s) - t0 ))
log "all $TAGS tags applied $applied_secs s after the seeding started"
helper wait-scans "$base" "$token" "$TAGS" "$SCAN_TIMEOUT" > /dev/null
scanned_secs=$(( $(date +%s) - t0 ))
log "all $TAGS tags scanned $scanned_secs s after the seeding started ($(( TAGS / (scanned_secs > 0 ? scanned_secs : 1) )) tags/s overall)"

# Measure on a quiet server: no background scan pass during the runs.
stop_serve
PORTUS_SECURITY_INTERVAL_SECS=86400 start_serve
cookie=$(helper sign-in "$base" bench "$password")
mkdir -p "$work/routes"
helper paths "$base" "$token" "$cookie" "$work/routes" "$SAMPLE" "$TAGS"
log "measuring each route with wrk for $DURATION s (longer for slow routes, at most $MAX_DURATION s)"
while IFS=$'\t' read -r number name kind file alone; do
  if [ "$number" != 0 ] && [ -n "$ROUTES" ] && ! [[ "$name" =~ $ROUTES ]]; then continue; fi
  case "$kind" in
    api) auth="Authorization: Bearer $token" ;;
    web) auth="Cookie: $cookie" ;;
    *) auth="X-Signed-Out: yes" ;;
  esac
  out=$(printf '%s/route%02d.wrk' "$work/routes" "$number")
  seconds=$(python3 -c "import math; print(min($MAX_DURATION, max($DURATION, math.ceil(10 * $alone))))")
  wrk -t2 -c4 -d"${seconds}s" --timeout "${seconds}s" --latency -H "$auth" -s "$LUA" "$base" -- "$file" > "$out" 2>&1 || true
  log "  $name: alone ${alone} s; $(awk '/requests in/ { print $1 " requests in " $4 } /^Requests\/sec/ { print $2 " req/s" }' "$out" | paste -sd ' ')"
done < "$work/routes/routes.tsv"

echo
echo "scripts/bench-lists.sh: TAGS=$TAGS ($REPOS repositories x 10 tags, $NAMESPACES namespaces) STORE=$STORE" \
  "DURATION=$DURATION MAX_DURATION=$MAX_DURATION; commit $(git rev-parse --short HEAD); wrk -t2 -c4 --latency on $(nproc) cores shared with the server"
echo "seeding: registry storage written in $storage_secs s; notifications accepted in $posted_secs s," \
  "all tags applied after $applied_secs s, all scanned (dummy scanner) after $scanned_secs s"
echo
helper report "$work/routes"
