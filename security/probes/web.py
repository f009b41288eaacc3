"""Injection, XSS and CSRF through the comparisons' HTTP apps (harness/dataflow_app.py on the reference
DataFlow, harness/django_side on Django), served as the load tests serve them (uvicorn, gunicorn) on SQLite.

Hostile payloads go through every endpoint: as username and password on user creation (then read back from
the user list) and as the permission codename. The oracle is the data itself: each value must come back
byte for byte, as JSON (never as HTML), with no server error and no other row touched. The DataFlow side's
own injection safety is the conformance pack's SAFE clauses, read from the committed reports under reports/.
CSRF: a cross-site "simple" request (text/plain body, foreign Origin, no token) must be refused."""

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from dataflow_conformance.report.outcomes import PASSED

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, Finding, package

PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE auth_user; --",
    '" OR 1=1 --',
    "Robert'); DROP TABLE students;--",
    "1; SELECT pg_sleep(5)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(document.cookie)>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "{{7*7}}${7*7}",
]
REPORTS = Path(__file__).resolve().parents[2] / "reports"
EVIL_ORIGIN = "https://evil.example"


def run(context) -> list[Finding]:
    from harness import servers

    apps = {}
    for app, side in (("dataflow_reference", KAILASH), ("django", DJANGO)):
        env = _prepare(context.folder, app)
        with servers.running_server(app, 1, env, context.folder / f"server-{app}.log") as (base, _):
            apps[side] = _exercise(base)
    findings = [_safe_clauses()]
    for side, result in apps.items():
        findings += [_injection(side, result), _xss(side, result), _csrf(side, result)]
    return findings + [_django_builtins()]


def _prepare(folder: Path, app: str) -> dict:
    import subprocess
    import sys

    from harness import servers
    from harness.django_side import SETTINGS_MODULE

    url = f"sqlite:///{folder / f'web-{app}.db'}"
    env = servers.child_env(
        DFC_LOAD_DATABASE_URL=url, DFC_LOAD_TABLE_PREFIX="web", DJANGO_SETTINGS_MODULE=SETTINGS_MODULE
    )
    commands = [[sys.executable, "-m", "harness", "seed", "--side", app, "--users", "3"]]
    commands[0] += ["--table-prefix", "web", "--out", str(folder / f"seed-{app}.json")]
    if app == "django":
        commands.insert(0, [sys.executable, "-m", "django", "migrate", "--noinput"])
    for command in commands:
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=servers.ROOT)
    return env


def _request(base: str, path: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(base + path, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _exercise(base: str) -> dict:
    out = {"statuses": [], "mismatches": [], "content_types": set(), "csp": set(), "nosniff": set(), "denied": 0}
    before = len(_all_users(base))
    sent = {}
    for n, payload in enumerate(PAYLOADS):
        user = {"username": f"p{n}-{payload}", "email": f"p{n}@example.com", "password": payload}
        status, headers, body = _request(
            base, "/users", json.dumps(user).encode(), {"Content-Type": "application/json"}
        )
        out["statuses"].append(status)
        if status == 201:
            sent[json.loads(body)["id"]] = user["username"]
        code = urllib.parse.quote(payload, safe="")
        status, headers, body = _request(base, f"/users/1/permissions/{code}")
        out["statuses"].append(status)
        out["denied"] += status == 200 and json.loads(body) == {"allowed": False}
        if status == 200 and json.loads(body) != {"allowed": False}:
            out["mismatches"].append(f"permission {payload!r} answered {body[:80]!r}")
    users = _all_users(base, out)
    for user_id, username in sent.items():
        got = users.get(user_id)
        if got != username:
            out["mismatches"].append(f"user {user_id}: sent {username!r}, read back {got!r}")
    out["created"], out["expected"] = len(sent), len(PAYLOADS)
    out["rows_after"], out["rows_expected"] = len(users), before + len(sent)
    # CSRF: what a foreign page's form can send without a preflight
    forged = json.dumps({"username": "csrf-victim", "email": "csrf@example.com", "password": "x"}).encode()
    status, headers, _ = _request(base, "/users", forged, {"Content-Type": "text/plain", "Origin": EVIL_ORIGIN})
    out["forged_status"] = status
    out["cors_allow"] = headers.get("access-control-allow-origin") or headers.get("Access-Control-Allow-Origin")
    return out


def _all_users(base: str, out: dict | None = None) -> dict:
    users, page = {}, 0
    while True:
        status, headers, body = _request(base, f"/users?page={page}")
        if out is not None:
            out["content_types"].add(headers.get("content-type") or headers.get("Content-Type"))
            out["csp"].add(bool(headers.get("content-security-policy") or headers.get("Content-Security-Policy")))
            out["nosniff"].add(headers.get("x-content-type-options") or headers.get("X-Content-Type-Options"))
        rows = json.loads(body)["users"]
        if not rows:
            return users
        users.update({row["id"]: row["username"] for row in rows})
        page += 1


def _component(side: str) -> str:
    if side == KAILASH:
        return f"harness/dataflow_app.py: Starlette + dataflow_reference on Kailash nodes ({package('kailash')})"
    return f"harness/django_side: Django {package('django').split()[-1]} JSON views over django.contrib.auth"


def _injection(side: str, r: dict) -> Finding:
    errors = sum(s >= 500 for s in r["statuses"])
    problems = r["mismatches"] + ([f"{errors} server errors"] if errors else [])
    if r["rows_after"] != r["rows_expected"]:
        problems.append(f"{r['rows_after']} users afterwards, expected {r['rows_expected']}")
    measured = (
        f"{r['created']}/{r['expected']} hostile usernames stored and read back byte for byte; "
        f"{r['denied']}/{len(PAYLOADS)} hostile codenames answered 'not allowed' (the rest: no route); status codes {sorted(set(r['statuses']))}; "
        f"{r['rows_after']} users afterwards (expected {r['rows_expected']})"
    )
    tried = f"{len(PAYLOADS)} SQL / script payloads as username, password and permission codename (HTTP)"
    verdict = FAILS if problems else HOLDS
    reason = "; ".join(problems) or "values are data: stored unchanged, no query changed by them"
    return Finding("sql_injection", side, _component(side), tried, measured, verdict, reason)


def _safe_clauses() -> Finding:
    """The published DataFlow's own injection safety: the pack's SAFE clauses, from its committed report."""
    report = json.loads((REPORTS / "dataflow" / "conformance-report.json").read_text())
    results = {cid: c["results"] for cid, c in report["clauses"].items() if cid.startswith("SAFE-")}
    failing = {cid: sorted(b for b, r in res.items() if r not in PASSED) for cid, res in results.items()}
    failing = {cid: backends for cid, backends in failing.items() if backends}
    messages = {}
    for test in report["tests"]:
        for cid in test["clauses"]:
            if cid in failing and cid not in messages and test["outcome"] not in PASSED:
                messages[cid] = test["message"].split("\n")[0][:110]
    total = sum(len(r) for r in results.values())
    passed = total - sum(len(b) for b in failing.values())
    measured = f"{passed}/{total} clause x backend results pass; " + "; ".join(
        f"{cid} fails on {', '.join(b)} ({messages.get(cid, '?')})" for cid, b in sorted(failing.items())
    )
    implementation = report["implementation"]
    component = f"{implementation.get('module', 'dataflow')} {implementation.get('version', '')} (kailash-dataflow, the published DataFlow)"
    tried = (
        "the conformance pack's SAFE clauses on SQLite, PostgreSQL and MySQL (reports/dataflow/conformance-report.json)"
    )
    reason = f"{len(failing)} of {len(results)} SAFE clauses fail" if failing else "every SAFE clause passes"
    return Finding("sql_injection", KAILASH, component, tried, measured, FAILS if failing else HOLDS, reason)


def _xss(side: str, r: dict) -> Finding:
    json_only = all(ct and ct.startswith("application/json") for ct in r["content_types"])
    measured = (
        f"script payloads returned unchanged as data; content types {sorted(r['content_types'])}; "
        f"Content-Security-Policy header sent: {any(r['csp'])}; X-Content-Type-Options: {sorted(map(str, r['nosniff']))}"
    )
    problems = list(r["mismatches"])
    if not json_only:
        problems.append("a response carrying a payload was not JSON")
    if side == KAILASH and not any(r["csp"]):
        problems.append("no Content-Security-Policy header (the 'CSP' half of the claim): nothing in the path adds one")
    reason = "; ".join(problems) or "payloads are returned as JSON data, never as markup"
    tried = "script payloads stored through POST /users and read back through GET /users"
    if side == DJANGO:
        tried += " (Django's template autoescaping: see the row for Django itself)"
    return Finding("xss", side, _component(side), tried, measured, FAILS if problems else HOLDS, reason)


def _csrf(side: str, r: dict) -> Finding:
    created = r["forged_status"] == 201
    measured = (
        f"cross-site POST (Origin {EVIL_ORIGIN}, text/plain, no token): HTTP {r['forged_status']}"
        f"{' — the user was created' if created else ''}; Access-Control-Allow-Origin: {r['cors_allow']}"
    )
    if side == KAILASH:
        reason = (
            "a forged cross-site request creates a user: no JWT and no CORS check in the path" if created else "refused"
        )
    else:
        reason = (
            "the load tests' Django app runs without middleware (MIDDLEWARE = []), so it has no CSRF check; "
            "Django's own middleware is in the next row"
            if created
            else "refused"
        )
    tried = "a form-style cross-site POST to /users, as a foreign page can send without a preflight"
    return Finding("csrf", side, _component(side), tried, measured, FAILS if created else HOLDS, reason)


def _django_builtins() -> Finding:
    from django.middleware.csrf import get_token
    from django.template import Context, Template
    from django.test import Client, RequestFactory

    rendered = Template("<p>{{ value }}</p>").render(Context({"value": PAYLOADS[5]}))
    escaped = "<script>" not in rendered
    client = Client(enforce_csrf_checks=True)
    refused = client.post("/users", {"username": "csrf"}, HTTP_ORIGIN=EVIL_ORIGIN).status_code
    client.get("/users")  # no cookie yet: get one the way a page of the site would
    request = RequestFactory().get("/")
    token = get_token(request)
    client.cookies["csrftoken"] = request.META["CSRF_COOKIE"]
    accepted = client.post("/users", {"username": "csrf", "csrfmiddlewaretoken": token}).status_code
    measured = (
        f"template autoescape renders {PAYLOADS[5]!r} as {rendered!r}; CsrfViewMiddleware: POST without token "
        f"HTTP {refused}, with the site's token HTTP {accepted}"
    )
    ok = escaped and refused == 403 and accepted == 201
    reason = "templates escape, tokens are required" if ok else "see measured"
    component = (
        f"{package('django')}: django.template autoescape + django.middleware.csrf.CsrfViewMiddleware (built in)"
    )
    tried = "render a script payload in a template; POST to a view guarded by the middleware with and without a token"
    return Finding("csrf", DJANGO, component, tried, measured, HOLDS if ok else FAILS, reason)
