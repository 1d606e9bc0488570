"""The web sandbox's server side (docs/web.md): the static files, sign-in by
username, and the session cookie on user routes, /app/events and /file/.
The page itself is tested in a browser by tests/web."""
import re

import requests

from conftest import Api, Server, uname

COOKIE = "bink_session"


def login(api, username):
    r = requests.post(api.url("/app/login"), json={"username": username}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["code"] == 200, body
    token = r.cookies.get(COOKIE)
    assert token and token.startswith("s1."), r.headers
    api.server.tokens.add(token)
    return token, body["data"], r


def with_cookie(api, path, token, json=None, headers=None, method="POST", **kw):
    h = {"Cookie": f"{COOKIE}={token}"}
    h.update(headers or {})
    r = requests.request(method, api.url(path), json=json, headers=h, timeout=10, **kw)
    return r


def test_page_and_files(api):
    r = requests.get(api.url("/"), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-cache"
    csp = r.headers["Content-Security-Policy"]
    for part in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                 "connect-src 'self'", "img-src 'self' blob: data:", "media-src 'self' blob:",
                 "frame-ancestors 'none'"):
        assert part in csp
    assert "unsafe" not in csp
    assert '<script src="/web/app.js"' in r.text
    etag = r.headers["ETag"]
    assert requests.get(api.url("/"), headers={"If-None-Match": etag},
                        timeout=10).status_code == 304
    js = requests.get(api.url("/web/app.js"), timeout=10)
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "innerHTML" not in js.text
    assert requests.head(api.url("/web/app.css"), timeout=10).status_code == 200
    r = requests.get(api.url("/web/missing.js"), timeout=10)
    assert r.status_code == 404 and r.json()["code"] == 404
    assert requests.post(api.url("/"), timeout=10).status_code == 405


def test_login_registers_then_signs_in(api):
    name = uname("w")
    token, me, r = login(api, name)
    assert me["username"] == name and me["display_name"] == name and me["created"] is True
    cookie = r.headers["Set-Cookie"]
    assert re.search(r"; HttpOnly", cookie) and "SameSite=Strict" in cookie
    assert "Path=/" in cookie and "Max-Age=" in cookie
    # again: the same user, a second session; the first stays valid
    token2, me2, _ = login(api, name.upper())
    assert me2["user_id"] == me["user_id"] and me2["created"] is False
    assert token2 != token
    for t in (token, token2):
        r = with_cookie(api, "/app/me", t)
        assert r.json()["data"]["user_id"] == me["user_id"]


def test_login_refuses_bad_names_and_bots(api):
    owner = api.user()
    bot_id, _ = api.createbot(owner.token)
    bot_name = api.ok("/app/getuser", owner.token, {"user_id": bot_id})["username"]
    for body, code in (({}, 400), ({"username": "x"}, 400), ({"username": bot_name}, 403)):
        r = requests.post(api.url("/app/login"), json=body, timeout=10)
        assert r.json()["code"] == code, (body, r.json())
        assert COOKIE not in r.cookies


def test_cookie_works_on_user_routes_events_and_files(api):
    token, me, _ = login(api, uname("w"))
    # a user route
    r = with_cookie(api, "/app/creategroup", token, json={"title": "web"})
    group_id = r.json()["data"]["group_id"]
    # an upload, then the file by the cookie alone
    files = {"file": ("a.txt", b"hello web", "text/plain")}
    r = requests.post(api.url("/app/uploadfile"), files=files,
                      headers={"Cookie": f"{COOKIE}={token}"}, timeout=10)
    file_id = r.json()["data"]["file_id"]
    r = with_cookie(api, "/app/sendmessage", token, json={
        "group_id": group_id, "message_type": "file", "file_id": file_id})
    assert r.json()["code"] == 200, r.json()
    r = with_cookie(api, "/file/" + file_id, token, method="GET")
    assert r.status_code == 200 and r.content == b"hello web"
    # the event stream
    with requests.get(api.url("/app/events"), headers={"Cookie": f"{COOKIE}={token}"},
                      stream=True, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
    # the stream resumes from ?last_event_id= too (a new EventSource)
    with requests.get(api.url("/app/events"), params={"last_event_id": "0"},
                      headers={"Cookie": f"{COOKIE}={token}"}, stream=True, timeout=10) as r:
        lines = []
        for line in r.iter_lines(decode_unicode=True):
            lines.append(line)
            if line.startswith("data:"):
                break
        assert any(line.startswith("id: ") for line in lines), lines


def test_cookie_is_not_a_bearer_token_nor_the_reverse(api):
    token, _, _ = login(api, uname("w"))
    user = api.user()
    api.err("/app/me", token, 401)                       # session token as Bearer
    r = with_cookie(api, "/app/me", user.token)          # user token as cookie
    assert r.json()["code"] == 401
    r = with_cookie(api, "/bot/getme", token)            # bot routes never take it
    assert r.json()["code"] == 401
    # an Authorization header, right or wrong, decides over the cookie
    r = with_cookie(api, "/app/me", token, headers={"Authorization": "Bearer nope"})
    assert r.json()["code"] == 401
    r = with_cookie(api, "/app/me", "s1." + "A" * 43)
    assert r.json()["code"] == 401


def test_cookie_from_another_origin_is_refused(api):
    token, _, _ = login(api, uname("w"))
    r = with_cookie(api, "/app/me", token, headers={"Origin": "http://evil.example"})
    assert r.json()["code"] == 403
    r = with_cookie(api, "/app/me", token, headers={"Origin": api.base})
    assert r.json()["code"] == 200
    r = requests.post(api.url("/app/login"), json={"username": uname("w")},
                      headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.json()["code"] == 403


def test_logout_ends_the_session_at_once(api):
    token, _, _ = login(api, uname("w"))
    assert with_cookie(api, "/app/me", token).json()["code"] == 200
    r = with_cookie(api, "/app/logout", token)
    assert r.json()["code"] == 200
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    assert with_cookie(api, "/app/me", token).json()["code"] == 401
    # signing out without a session is fine too
    assert requests.post(api.url("/app/logout"), timeout=10).json()["code"] == 200


def test_closed_registration(tmp_path):
    s = Server(str(tmp_path / "data"), ["--no-open-registration"]).start()
    try:
        api = Api(s)
        r = requests.post(api.url("/app/login"), json={"username": uname("w")}, timeout=10)
        assert r.json()["code"] == 403
        assert "registration" in r.json()["msg"]
    finally:
        assert s.stop() == 0


def test_logout_ends_the_cookie_stream_at_once(api):
    """A live stream opened with the session cookie ends as soon as that session
    signs out, not at the next heartbeat (15 s)."""
    import time
    token, _, _ = login(api, uname("w"))
    r = requests.get(api.url("/app/events"), stream=True, timeout=10,
                     headers={"Cookie": f"bink_session={token}", "Origin": api.base})
    try:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith(b"retry:")          # the stream is open
        t0 = time.monotonic()
        assert with_cookie(api, "/app/logout", token).json()["code"] == 200
        for _ in lines:                                   # drains until the server ends it
            pass
        assert time.monotonic() - t0 < 5, "the stream outlived the sign-out"
    finally:
        r.close()
