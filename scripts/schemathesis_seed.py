"""Seeds a fresh `portus serve` for scripts/schemathesis.sh through its REST API and its
registry notification endpoint, then prints the application token schemathesis runs with.

    schemathesis_seed.py BASE_URL BOOTSTRAP_TOKEN WEBHOOK_SECRET

What it makes: users with many application tokens (so the administrator token printed at the
end has a large id), teams with members, private/protected/public namespaces, repositories and
tags (two tags sharing a manifest). The bootstrap token is revoked at the end.
"""

import json
import sys
import time
import urllib.error
import urllib.request

base, bootstrap, webhook_secret = sys.argv[1:4]


def call(method, path, token, body=None, headers=None):
    request = urllib.request.Request(base + path, method=method)
    request.add_header("Authorization", "Bearer " + token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, data) as response:
            text = response.read()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        sys.exit(f"seed: {method} {path} answered {error.code}: {error.read().decode()}")


def api(method, path, body=None):
    return call(method, path, bootstrap, body)


users = {}
for n in range(30):
    user = api("POST", "/api/v1/users", {"username": f"user{n:02}", "email": f"user{n:02}@example.com"})
    users[user["username"]] = user
    for t in range(20):
        api("POST", f"/api/v1/users/{user['id']}/application_tokens", {"application": f"token{t:02}"})

for team, members in [("devs", ["user01", "user02"]), ("ops", ["user03"])]:
    created = api("POST", "/api/v1/teams", {"name": team, "description": f"the {team}"})
    for member in members:
        api("POST", f"/api/v1/teams/{created['id']}/members", {"user": member, "role": "contributor"})

for name, team, visibility in [("devs", "devs", "private"), ("tools", "devs", "protected"), ("open", "ops", "public")]:
    api("POST", "/api/v1/namespaces", {"name": name, "team": team, "visibility": visibility})

events = []
for n, (repository, tag, digest) in enumerate(
    [
        ("devs/app", "1.0", "a1"),
        ("devs/app", "latest", "a1"),
        ("devs/app", "2.0", "a2"),
        ("tools/cli", "1", "c1"),
        ("open/web", "1", "e1"),
        ("open/web", "2", "e2"),
    ]
):
    events.append(
        {
            "id": f"seed-{n}",
            "action": "push",
            "actor": {"name": "user01"},
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + digest * 32,
                "size": 1234,
                "repository": repository,
                "tag": tag,
            },
        }
    )
request = urllib.request.Request(base + "/v2/webhooks/events", method="POST", data=json.dumps({"events": events}).encode())
request.add_header("Authorization", "Bearer " + webhook_secret)
request.add_header("Content-Type", "application/vnd.docker.distribution.events.v1+json")
urllib.request.urlopen(request).read()
for _ in range(100):
    if len(api("GET", "/api/v1/tags?all=true")) == len(events):
        break
    time.sleep(0.1)
else:
    sys.exit("seed: the pushed tags never showed up")

fuzzer = api("POST", "/api/v1/users", {"username": "fuzzer", "admin": True})
token = api("POST", f"/api/v1/users/{fuzzer['id']}/application_tokens", {"application": "schemathesis"})
root = next(u for u in api("GET", "/api/v1/users?all=true") if u["username"] == "root")
bootstrap_id = api("GET", f"/api/v1/users/{root['id']}/application_tokens")[0]["id"]
call("DELETE", f"/api/v1/users/application_tokens/{bootstrap_id}", token["plain_token"])
print(token["plain_token"])
