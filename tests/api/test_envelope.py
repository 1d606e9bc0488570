"""The envelope and the common rules of bot-api.md: transport, authentication,
request bodies, response envelope, X-Request-Id, Idempotency-Key; and the
seed's own examples, which must work with only the base URL and token changed."""
import json
import re
import time

import requests

from conftest import Api, assert_error, thread_map, unknown_like, uname


def hello_body(gid):
    # byte for byte the -d argument of the seed's curl example, group id replaced
    return ('{\n"group_id": "%s",\n"message_type": "text",\n"content": "Hello, World!"\n}'
            % gid).encode()


# ---------------------------------------------------------------- the seed
def test_seed_curl_text_example_works_and_shows_in_history(api, world):
    r = requests.post(api.url("/bot/sendmessage"), data=hello_body(world.group),
                      headers={"Authorization": "Bearer " + world.bot.token,
                               "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200 and body["msg"] == "ok"
    m = body["data"]
    assert m["message_id"].startswith("msg_")
    assert m["chat_type"] == "group"
    assert m["group_id"] == world.group
    assert m["target_user_id"] == ""
    assert m["sender_id"] == world.bot.id
    assert m["message_type"] == "text"
    assert m["content"] == "Hello, World!"
    assert m["file_id"] == ""
    assert m["file"] is None and m["sticker"] is None and m["contact"] is None
    assert m["extra"] == {"inline_keyboard": []}
    assert m["reply_to_id"] == "" and m["quote_message_id"] == "" and m["quote"] is None
    assert isinstance(m["timestamp"], int) and abs(m["timestamp"] - time.time()) < 120
    assert m["edited_at"] == 0
    stored = api.find(world.owner.token, m["message_id"], group_id=world.group)
    assert stored is not None, "the sent message is not in /app/history"
    assert stored["content"] == "Hello, World!" and stored["sender_id"] == world.bot.id


def test_seed_python_send_text_message(api, world):
    # the seed's send_text_message(), verbatim but for the URL
    def send_text_message(bot_token, group_id, content):
        url = api.url("/bot/sendmessage")
        headers = {"Authorization": f"Bearer {bot_token}", "Content-Type": "application/json"}
        data = {"group_id": group_id, "message_type": "text", "content": content}
        response = requests.post(url, json=data, headers=headers)
        return response.json()

    res = send_text_message(world.bot.token, world.group, "这是一条文本消息")
    assert res["code"] == 200, res
    assert res["data"]["content"] == "这是一条文本消息"
    assert res["data"]["message_id"] in api.history_ids(world.owner.token, group_id=world.group)


def test_seed_python_send_message_with_buttons(api, world):
    def send_message_with_buttons(bot_token, group_id, content):
        url = api.url("/bot/sendmessage")
        headers = {"Authorization": f"Bearer {bot_token}", "Content-Type": "application/json"}
        data = {"group_id": group_id, "message_type": "text", "content": content,
                "extra": {"inline_keyboard": [[{"text": "确认", "callback_data": "confirm"},
                                               {"text": "取消", "callback_data": "cancel"}]]}}
        return requests.post(url, json=data, headers=headers).json()

    res = send_message_with_buttons(world.bot.token, world.group, "请选择:")
    assert res["code"] == 200, res
    assert res["data"]["extra"]["inline_keyboard"] == [
        [{"text": "确认", "callback_data": "confirm"}, {"text": "取消", "callback_data": "cancel"}]]


def test_seed_edit_message_example_clears_keyboard(api, world):
    m = api.bot_send(world.bot.token, "请选择:", group_id=world.group,
                     extra={"inline_keyboard": [[{"text": "确认", "callback_data": "confirm"}]]})
    r = requests.post(api.url("/bot/editmessage"),
                      json={"message_id": m["message_id"], "content": "已确认",
                            "extra": {"inline_keyboard": []}},
                      headers={"Authorization": f"Bearer {world.bot.token}",
                               "Content-Type": "application/json"})
    body = r.json()
    assert r.status_code == 200 and body["code"] == 200, body
    assert body["data"]["content"] == "已确认"
    assert body["data"]["extra"]["inline_keyboard"] == []


def test_post_getme_with_no_body_and_no_content_type(api, world):
    # curl -X POST .../bot/getme -H "Authorization: ..." sends no body and no Content-Type
    r = requests.post(api.url("/bot/getme"), headers={"Authorization": "Bearer " + world.bot.token})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["bot_id"] == world.bot.id


def test_empty_json_body_is_empty_object(api, world):
    status, body = api.call("/bot/getme", world.bot.token, data=b"",
                            headers={"Content-Type": "application/json"})
    assert status == 200 and body["data"]["bot_id"] == world.bot.id
    # on sendmessage {} means missing fields: a 400, not a parse error
    status, body = api.call("/bot/sendmessage", world.bot.token, data=b"",
                            headers={"Content-Type": "application/json"})
    assert_error(status, body, 400)


# ---------------------------------------------------------------- envelope
def test_success_envelope_and_content_type(api, world):
    r = api.request("POST", "/bot/getme", world.bot.token, json={})
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").replace(" ", "").lower() == \
        "application/json;charset=utf-8"
    body = r.json()
    assert set(body) >= {"code", "msg", "data"}
    assert body["code"] == 200 and body["msg"] == "ok" and isinstance(body["data"], dict)


def test_error_responses_are_json_envelopes(api, world):
    cases = [
        ("POST", "/bot/sendmessage", world.bot.token, {"group_id": world.group}, 400),
        ("POST", "/bot/getme", "nope", {}, 401),
        ("POST", "/bot/nosuchmethod", world.bot.token, {}, 404),
        ("GET", "/bot/sendmessage", world.bot.token, None, 405),
    ]
    for method, path, tok, js, code in cases:
        r = api.request(method, path, tok, json=js)
        assert r.headers.get("Content-Type", "").replace(" ", "").lower() == \
            "application/json;charset=utf-8", (path, r.headers)
        assert_error(r.status_code, api.body_of(r), code)


def test_every_response_has_x_request_id(api, world):
    seen = []
    reqs = [
        ("POST", "/bot/getme", world.bot.token, {}, None, 200),
        ("GET", "/bot/getme", world.bot.token, None, None, 200),
        ("POST", "/bot/sendmessage", world.bot.token, {"group_id": 5}, None, 400),
        ("POST", "/bot/getme", None, {}, None, 401),
        ("POST", "/bot/getgroup", world.bot.token, {"group_id": unknown_like(world.group)}, None, 404),
        ("PUT", "/bot/getme", world.bot.token, None, None, 405),
        ("POST", "/bot/getme", world.bot.token, None, {"Content-Type": "text/plain"}, 415),
        ("POST", "/app/me", world.owner.token, {}, None, 200),
        ("GET", "/healthz", None, None, None, 200),
        ("GET", "/no/such/path", None, None, None, 404),
    ]
    for method, path, tok, js, hdrs, code in reqs:
        data = b"{}" if hdrs else None
        r = api.request(method, path, tok, json=js, data=data, headers=hdrs)
        assert r.status_code == code, (method, path, r.status_code, r.text)
        rid = r.headers.get("X-Request-Id")
        assert rid and rid.strip(), f"{method} {path} ({code}) has no X-Request-Id"
        seen.append(rid)
    assert len(set(seen)) == len(seen), f"request ids repeat: {seen}"


def test_healthz(api):
    r = requests.get(api.url("/healthz"))
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- transport
def test_paths_match_case_insensitively(api, world):
    m = api.ok("/bot/sendMessage", world.bot.token,
               {"group_id": world.group, "message_type": "text", "content": "camel"})
    assert m["content"] == "camel"
    d = api.ok("/BOT/GETME", world.bot.token, {})
    assert d["bot_id"] == world.bot.id
    d = api.ok("/App/Me", world.owner.token, {})
    assert d["user_id"] == world.owner.id


def test_get_on_sendmessage_is_405_with_allow(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    r = api.request("GET", "/bot/sendmessage", world.bot.token,
                    params={"group_id": world.group, "message_type": "text", "content": "x"})
    assert_error(r.status_code, api.body_of(r), 405)
    allow = r.headers.get("Allow", "")
    assert "POST" in [a.strip().upper() for a in allow.split(",")], f"Allow: {allow!r}"
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_other_methods_on_read_only_endpoint_are_405(api, world):
    for method in ("PUT", "DELETE", "PATCH"):
        r = api.request(method, "/bot/getme", world.bot.token)
        assert_error(r.status_code, api.body_of(r), 405)
        allow = [a.strip().upper() for a in r.headers.get("Allow", "").split(",")]
        assert "POST" in allow and "GET" in allow, (method, allow)


def test_get_on_app_sendmessage_is_405(api, world):
    r = api.request("GET", "/app/sendmessage", world.owner.token)
    assert_error(r.status_code, api.body_of(r), 405)
    assert "POST" in r.headers.get("Allow", "").upper()


def test_get_getme_works(api, world):
    r = api.request("GET", "/bot/getme", world.bot.token)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["bot_id"] == world.bot.id and d["username"] == world.bot.username


def test_get_read_only_endpoints_take_query_parameters(api, world):
    r = api.request("GET", "/bot/getgroup", world.bot.token, params={"group_id": world.group})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["group_id"] == world.group
    r = api.request("GET", "/bot/botapigetcommands", world.bot.token)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"commands": []}


def test_unknown_path_is_404_envelope(api, world):
    for method, path, tok in (("POST", "/bot/nosuchmethod", world.bot.token),
                              ("POST", "/app/nosuchmethod", world.owner.token),
                              ("GET", "/definitely/not/here", None)):
        r = api.request(method, path, tok, json={} if method == "POST" else None)
        assert_error(r.status_code, api.body_of(r), 404)


def test_unknown_path_with_invalid_utf8_or_cut_characters_is_404_envelope(api, world):
    """The path is echoed in the message: bytes that are not UTF-8 must not turn the
    404 into a 500 (the envelope is JSON), nor may a character cut by the length
    limit."""
    for path, shown in (("/%ff", "/?"), ("/bot/getme%c3", "/bot/getme?"),
                        ("/app/%e4%bd%a0", "/app/\u4f60"),
                        ("/" + "%e4%bd%a0" * 90, None), ("/a" + "%e4%bd%a0" * 90, None)):
        r = api.request("POST", path, world.bot.token, json={})
        body = api.body_of(r)
        assert_error(r.status_code, body, 404)
        if shown:
            assert body["msg"] == "no such endpoint: " + shown, body
        else:
            assert body["msg"].startswith("no such endpoint: /"), body
            assert set(body["msg"][len("no such endpoint: /"):]) <= {"a", "\u4f60"}, body


def test_transfer_encoding_other_than_chunked_is_400_at_once(api, world):
    """libmicrohttpd reads only chunked bodies; any other Transfer-Encoding used to
    leave the request waiting forever. Now: 400, and the connection is closed."""
    import socket
    host, port = api.base.split("//", 1)[1].split(":")
    body = json.dumps({"group_id": world.group, "message_type": "text",
                       "content": "never stored"})
    before = api.history_ids(world.owner.token, group_id=world.group)
    for te, payload in (("gzip", body), ("gzip, chunked", f"{len(body):x}\r\n{body}\r\n0\r\n\r\n"),
                        (" chunked ", f"{len(body):x}\r\n{body}\r\n0\r\n\r\n")):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall((f"POST /bot/sendmessage HTTP/1.1\r\nHost: {host}\r\n"
                       f"Authorization: Bearer {world.bot.token}\r\n"
                       f"Content-Type: application/json\r\nTransfer-Encoding: {te}\r\n\r\n"
                       + payload).encode())
            got = b""
            while True:  # the server closes: no waiting on a timeout here
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        head, _, rest = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), got[:200]
        assert b"connection: close" in head.lower(), head
        env = json.loads(rest)
        assert env["code"] == 400 and "Transfer-Encoding" in env["msg"], env
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def _raw_exchange(api, request, timeout=5):
    """Sends raw bytes, reads until the server closes (a hang fails on the timeout)."""
    import socket
    host, port = api.base.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk


def test_bad_framing_is_answered_at_once_whatever_else_is_wrong(api, world):
    """A body libmicrohttpd cannot delimit must not leave an early error waiting for
    its end; and Content-Length with Transfer-Encoding closes the connection, so that a
    request hidden behind it is never run (RFC 9112 6.3)."""
    tok = world.bot.token
    for line, extra in (("POST /nope", ""), ("POST /%ff", ""), ("POST /healthz", ""),
                        ("PUT /bot/sendmessage", f"Authorization: Bearer {tok}\r\n"),
                        ("POST /bot/sendmessage?token=x", ""),
                        ("POST /bot/sendmessage", f"Authorization: Bearer {tok}\r\n"
                                                  "Content-Length: 2\r\n")):
        got = _raw_exchange(api, (f"{line} HTTP/1.1\r\nHost: x\r\n{extra}"
                                  "Transfer-Encoding: identity\r\n\r\n{}").encode())
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), (line, got[:200])
        assert b"connection: close" in head.lower(), (line, head)
    before = api.history_ids(world.owner.token, group_id=world.group)
    hidden = json.dumps({"group_id": world.group, "message_type": "text",
                         "content": "smuggled"})
    second = (f"POST /bot/sendmessage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(hidden)}\r\n\r\n"
              + hidden)
    for headers, body in (("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
                          ("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
                           "0\r\n\r\n")):
        got = _raw_exchange(api, (f"POST /bot/sendmessage HTTP/1.1\r\nHost: x\r\n"
                                  f"Authorization: Bearer {tok}\r\n"
                                  f"Content-Type: application/json\r\n{headers}\r\n{body}"
                                  + second).encode())
        assert got.startswith(b"HTTP/1.1 400 "), got[:200]
        assert got.count(b"HTTP/1.1 ") == 1, f"a second request was answered: {got!r}"
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_quoted_names_that_are_not_utf8_give_404_not_500(api, world):
    """/web/ and /file/ quote the name they could not find; bytes that are not UTF-8,
    or a character cut by the quote's length limit, must not break the envelope."""
    for path, token in (("/web/%ff", None), ("/web/a%c3", None),
                        ("/web/" + "a" * 98 + "%e2%82%ac", None),
                        ("/web/" + "a" * 99 + "%e2%82%ac", None),
                        ("/file/%ff", world.bot.token), ("/file/file_%ff", world.bot.token)):
        r = api.request("GET", path, token)
        assert r.status_code == 404, (path, r.status_code, r.text[:200])
        body = api.body_of(r)
        assert body["code"] == 404 and body["msg"], body


def test_spaces_in_a_path_cannot_forge_access_log_fields(fresh_server):
    api = Api(fresh_server)
    r = api.request("GET", "/x%20200%200.01%2099%20bot_fake")
    assert r.status_code == 404
    line = fresh_server.wait_log(" 404 ")
    assert line and "/x?200?0.01?99?bot_fake 404 " in line, line


# ---------------------------------------------------------------- authentication
def test_missing_token_is_401_missing_bot_token(api):
    msg = api.err("/bot/getme", None, 401, json={})
    assert msg == "missing bot token"


def test_bad_token_is_401_invalid_bot_token(api, world):
    r = api.request("POST", "/bot/getme", "b1.notarealtokenatall", json={})
    msg = assert_error(r.status_code, api.body_of(r), 401)
    assert msg == "invalid bot token"
    assert "notarealtokenatall" not in r.text  # the offered token is not echoed


def test_malformed_authorization_headers_are_401(api, world):
    for value in ("Basic " + world.bot.token, world.bot.token, "Bearer", "Bearer "):
        r = api.request("POST", "/bot/getme", headers={"Authorization": value}, json={})
        assert_error(r.status_code, api.body_of(r), 401)
        assert world.bot.token not in r.text


def test_bearer_scheme_word_is_case_insensitive(api, world):
    for scheme in ("bearer", "BEARER", "BeArEr"):
        r = api.request("POST", "/bot/getme", headers={"Authorization": f"{scheme} {world.bot.token}"},
                        json={})
        assert r.status_code == 200, (scheme, r.text)


def test_user_token_on_bot_api_is_401(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/bot/getme", world.owner.token, 401, json={})
    api.err("/bot/sendmessage", world.owner.token, 401,
            json={"group_id": world.group, "message_type": "text", "content": "x"})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_bot_token_on_app_api_is_401(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/app/me", world.bot.token, 401, json={})
    api.err("/app/sendmessage", world.bot.token, 401,
            json={"group_id": world.group, "message_type": "text", "content": "x"})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_token_in_query_string_is_401(api, world):
    # without a header
    r = requests.post(api.url("/bot/getme"), params={"token": world.bot.token}, json={})
    assert_error(r.status_code, api.body_of(r), 401)
    assert world.bot.token not in r.text
    r = requests.get(api.url("/bot/getme"), params={"token": world.bot.token})
    assert_error(r.status_code, api.body_of(r), 401)
    # with a valid header too: the token offered in the URL is refused all the same
    before = api.history_ids(world.owner.token, group_id=world.group)
    r = api.request("POST", "/bot/sendmessage", world.bot.token, params={"token": world.bot.token},
                    json={"group_id": world.group, "message_type": "text", "content": "q"})
    assert_error(r.status_code, api.body_of(r), 401)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_token_in_json_body_is_401_and_nothing_stored(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    body = {"group_id": world.group, "message_type": "text", "content": "b",
            "token": world.bot.token}
    r = api.request("POST", "/bot/sendmessage", world.bot.token, json=body)
    assert_error(r.status_code, api.body_of(r), 401)
    assert world.bot.token not in r.text
    r = api.request("POST", "/bot/sendmessage", None, json=body)
    assert_error(r.status_code, api.body_of(r), 401)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_token_in_form_body_is_401(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    r = api.request("POST", "/bot/sendmessage", world.bot.token,
                    data={"group_id": world.group, "message_type": "text", "content": "f",
                          "token": world.bot.token})
    assert_error(r.status_code, api.body_of(r), 401)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_revoked_token_is_invalid_bot_token(api):
    owner = api.user()
    bot = api.bot(owner)
    d = api.ok("/app/revoketoken", owner.token, {"bot_id": bot.id})
    api.server.tokens.add(d["token"])
    assert api.err("/bot/getme", bot.token, 401, json={}) == "invalid bot token"


def test_token_never_in_server_log(fresh_server):
    from conftest import Api
    a = Api(fresh_server)
    owner = a.user()
    bot = a.bot(owner)
    gid = a.creategroup(owner.token)
    a.addmember(owner.token, gid, bot.id)
    secret_text = "body-secret-" + uname()
    a.bot_send(bot.token, secret_text, group_id=gid)
    requests.get(a.url("/bot/getme"), params={"token": bot.token})
    requests.post(a.url("/bot/getme?token=" + owner.token), json={})
    requests.post(a.url("/bot/sendmessage"), json={"token": bot.token, "group_id": gid})
    requests.post(a.url("/bot/getme"), headers={"Authorization": "Bearer " + bot.token + "x"})
    requests.post(a.url("/bot/getme"), headers={"Authorization": "Bearer " + owner.token})
    requests.post(a.url("/app/me"), headers={"Authorization": "Bearer " + bot.token})
    new = a.ok("/app/revoketoken", owner.token, {"bot_id": bot.id})["token"]
    requests.post(a.url("/bot/getme"), headers={"Authorization": "Bearer " + bot.token})
    requests.post(a.url("/bot/getme"), headers={"Authorization": "Bearer " + new})
    rc = fresh_server.stop()
    assert rc == 0
    log = fresh_server.log_text()
    assert log.strip(), "the server logged nothing at all (one line per request expected)"
    for tok in (owner.token, bot.token, new, bot.token + "x"):
        assert tok not in log, "a token appeared in the server log"
    assert secret_text not in log, "a request body appeared in the server log"


def test_request_is_logged_with_its_request_id(api, world):
    # server.md: one line per request with request_id, method, path and status
    r = api.request("POST", "/bot/getme", world.bot.token, json={})
    rid = r.headers.get("X-Request-Id")
    assert rid
    line = api.server.wait_log(rid)
    assert line is not None, f"no log line carries request id {rid}"
    assert "/bot/getme" in line.lower() and "200" in line
    assert world.bot.id in line, f"the caller is not in the log line: {line!r}"
    assert world.bot.token not in line


# ---------------------------------------------------------------- bodies
def test_form_urlencoded_sendmessage(api, world):
    r = api.request("POST", "/bot/sendmessage", world.bot.token,
                    data={"group_id": world.group, "message_type": "text", "content": "form body ✓"})
    body = api.body_of(r)
    assert r.status_code == 200, body
    assert body["data"]["content"] == "form body ✓"
    assert body["data"]["message_id"] in api.history_ids(world.owner.token, group_id=world.group)


def test_form_urlencoded_extra_as_json_string(api, world):
    kb = [[{"text": "Yes", "callback_data": "y"}, {"text": "Site", "url": "https://example.com/a?b=c"}]]
    r = api.request("POST", "/bot/sendmessage", world.bot.token,
                    data={"group_id": world.group, "message_type": "text", "content": "pick",
                          "extra": json.dumps({"inline_keyboard": kb})})
    body = api.body_of(r)
    assert r.status_code == 200, body
    assert body["data"]["extra"]["inline_keyboard"] == kb


def test_form_urlencoded_extra_not_json_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    r = api.request("POST", "/bot/sendmessage", world.bot.token,
                    data={"group_id": world.group, "message_type": "text", "content": "pick",
                          "extra": "{not json"})
    assert_error(r.status_code, api.body_of(r), 400, "extra")
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_form_urlencoded_message_ids_as_json_string(api, world):
    m1 = api.bot_send(world.bot.token, "a", group_id=world.group)
    m2 = api.bot_send(world.bot.token, "b", group_id=world.group)
    r = api.request("POST", "/bot/deletemessage", world.bot.token,
                    data={"message_ids": json.dumps([m1["message_id"], m2["message_id"]])})
    body = api.body_of(r)
    assert r.status_code == 200, body
    assert sorted(body["data"]["deleted"]) == sorted([m1["message_id"], m2["message_id"]])


def test_form_integer_field_parses_and_bad_integer_names_field(api, admin_world):
    w = admin_world
    u = api.user()
    api.addmember(w.owner.token, w.group, u.id)
    r = api.request("POST", "/bot/mutemember", w.bot.token,
                    data={"group_id": w.group, "user_id": u.id, "duration": "30"})
    assert r.status_code == 200, r.text
    r = api.request("POST", "/bot/mutemember", w.bot.token,
                    data={"group_id": w.group, "user_id": u.id, "duration": "thirty"})
    assert_error(r.status_code, api.body_of(r), 400, "duration")


def test_content_type_text_plain_is_415(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    r = api.request("POST", "/bot/sendmessage", world.bot.token,
                    data=json.dumps({"group_id": world.group, "message_type": "text",
                                     "content": "plain"}).encode(),
                    headers={"Content-Type": "text/plain"})
    assert_error(r.status_code, api.body_of(r), 415)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_json_with_charset_parameter_is_accepted(api, world):
    r = api.request("POST", "/bot/sendmessage", world.bot.token,
                    data=json.dumps({"group_id": world.group, "message_type": "text",
                                     "content": "cs"}).encode(),
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


def test_unknown_fields_are_ignored(api, world):
    m = api.bot_send(world.bot.token, "extra fields", group_id=world.group,
                     parse_mode="HTML", nested={"a": [1, 2]}, flag=True)
    assert m["content"] == "extra fields"


def test_not_json_is_400_with_parse_position(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    text = '{"group_id": "%s", "message_type": "text", "content": }' % world.group
    pos = text.index("}", text.index('"content"'))  # the offending byte, 0-based
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=text.encode(),
                    headers={"Content-Type": "application/json"})
    msg = assert_error(r.status_code, api.body_of(r), 400)
    numbers = {int(n) for n in re.findall(r"\d+", msg)}
    # a byte offset or a column, 0- or 1-based, possibly just past the token
    assert numbers & {pos - 1, pos, pos + 1, pos + 2}, \
        f"msg {msg!r} does not give the position (~{pos}) of the parse error"
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_truncated_json_is_400(api, world):
    r = api.request("POST", "/bot/sendmessage", world.bot.token,
                    data=b'{"group_id": "x", "content": "abc',
                    headers={"Content-Type": "application/json"})
    assert_error(r.status_code, api.body_of(r), 400)


def test_json_array_and_scalar_bodies_are_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    for raw in (json.dumps([{"group_id": world.group, "message_type": "text", "content": "arr"}]),
                '"hello"', "42", "null", "true"):
        r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw.encode(),
                        headers={"Content-Type": "application/json"})
        assert_error(r.status_code, api.body_of(r), 400)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_invalid_utf8_body_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    raw = b'{"group_id":"' + world.group.encode() + b'","message_type":"text","content":"caf\xe9"}'
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw,
                    headers={"Content-Type": "application/json"})
    assert_error(r.status_code, api.body_of(r), 400)
    # the same through the App API
    r = api.request("POST", "/app/sendmessage", world.owner.token, data=raw,
                    headers={"Content-Type": "application/json"})
    assert_error(r.status_code, api.body_of(r), 400)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_invalid_utf8_in_form_body_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    raw = b"group_id=" + world.group.encode() + b"&message_type=text&content=caf%E9"
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r.status_code, api.body_of(r), 400)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_lone_surrogate_escape_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    raw = ('{"group_id":"%s","message_type":"text","content":"\\ud83d"}' % world.group).encode()
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw,
                    headers={"Content-Type": "application/json"})
    assert_error(r.status_code, api.body_of(r), 400)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_surrogate_pair_escape_is_one_emoji(api, world):
    raw = ('{"group_id":"%s","message_type":"text","content":"\\ud83d\\udc4d"}' % world.group).encode()
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["content"] == "👍"


def test_nul_character_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    raw = ('{"group_id":"%s","message_type":"text","content":"a\\u0000b"}' % world.group).encode()
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw,
                    headers={"Content-Type": "application/json"})
    assert_error(r.status_code, api.body_of(r), 400, "content")
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_wrong_types_name_the_field(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    msg = api.err("/bot/sendmessage", world.bot.token, 400, "group_id",
                  json={"group_id": 5, "message_type": "text", "content": "x"})
    assert "string" in msg, msg
    api.err("/bot/sendmessage", world.bot.token, 400, "content",
            json={"group_id": world.group, "message_type": "text", "content": 5})
    api.err("/bot/sendmessage", world.bot.token, 400, "message_type",
            json={"group_id": world.group, "message_type": ["text"], "content": "x"})
    api.err("/bot/sendmessage", world.bot.token, 400, "extra",
            json={"group_id": world.group, "message_type": "text", "content": "x", "extra": 5})
    api.err("/bot/sendmessage", world.bot.token, 400, "inline_keyboard",
            json={"group_id": world.group, "message_type": "text", "content": "x",
                  "extra": {"inline_keyboard": "x"}})
    api.err("/bot/sendmessage", world.bot.token, 400, "reply_to_id",
            json={"group_id": world.group, "message_type": "text", "content": "x",
                  "reply_to_id": 12})
    api.err("/bot/deletemessage", world.bot.token, 400, "message_ids",
            json={"message_ids": "msg_1"})
    api.err("/bot/deletemessage", world.bot.token, 400, "message_ids",
            json={"message_ids": [1, 2]})
    api.err("/app/history", world.owner.token, 400, "limit",
            json={"group_id": world.group, "limit": "10"})
    api.err("/app/blockbot", world.owner.token, 400, "blocked",
            json={"bot_id": world.bot.id, "blocked": "yes"})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_duration_wrong_json_type_names_field(api, admin_world):
    w = admin_world
    u = api.user()
    api.addmember(w.owner.token, w.group, u.id)
    for bad in ("30", 30.5, True, [30], {"s": 30}):
        api.err("/bot/mutemember", w.bot.token, 400, "duration",
                json={"group_id": w.group, "user_id": u.id, "duration": bad})


def test_both_or_neither_group_id_and_target_user_id_is_400(api, world):
    u = api.user()
    api.app_send(u.token, "/start", target_user_id=world.bot.id)
    before = api.history_ids(world.owner.token, group_id=world.group)
    before_p = api.history_ids(u.token, peer_id=world.bot.id)
    msg = api.err("/bot/sendmessage", world.bot.token, 400, json={
        "group_id": world.group, "target_user_id": u.id, "message_type": "text", "content": "x"})
    assert "group_id" in msg or "target_user_id" in msg, msg
    msg = api.err("/bot/sendmessage", world.bot.token, 400,
                  json={"message_type": "text", "content": "x"})
    assert "group_id" in msg or "target_user_id" in msg, msg
    assert api.history_ids(world.owner.token, group_id=world.group) == before
    assert api.history_ids(u.token, peer_id=world.bot.id) == before_p


# ---------------------------------------------------------------- idempotency
def test_idempotency_key_concurrent_repeats_store_one_message(api, world):
    key = "k-" + uname()
    content = "idem " + key
    payload = {"group_id": world.group, "message_type": "text", "content": content}

    def send(_):
        r = requests.post(api.url("/bot/sendmessage"), json=payload,
                          headers={"Authorization": "Bearer " + world.bot.token,
                                   "Idempotency-Key": key})
        return r.status_code, r.json()

    results = thread_map(send, 10)
    statuses = [s for s, _ in results]
    assert statuses == [200] * 10, results
    ids = {b["data"]["message_id"] for _, b in results}
    assert len(ids) == 1, f"10 racing repeats gave {len(ids)} different message ids"
    stored = [m for m in api.history(world.owner.token, group_id=world.group)
              if m.get("content") == content]
    assert len(stored) == 1, f"{len(stored)} messages stored for one Idempotency-Key"
    assert stored[0]["message_id"] in ids


def test_idempotency_key_repeat_returns_first_response(api, world):
    key = "seq-" + uname()
    payload = {"group_id": world.group, "message_type": "text", "content": "once"}
    s1, b1 = api.call("/bot/sendmessage", world.bot.token, json=payload,
                      headers={"Idempotency-Key": key})
    s2, b2 = api.call("/bot/sendmessage", world.bot.token, json=payload,
                      headers={"Idempotency-Key": key})
    assert s1 == s2 == 200
    assert b1["data"] == b2["data"]
    ids = api.history_ids(world.owner.token, group_id=world.group)
    assert ids.count(b1["data"]["message_id"]) == 1
    # a different key stores a new message
    s3, b3 = api.call("/bot/sendmessage", world.bot.token, json=payload,
                      headers={"Idempotency-Key": key + "-2"})
    assert s3 == 200 and b3["data"]["message_id"] != b1["data"]["message_id"]


def test_idempotency_key_with_different_body_is_409(api, world):
    key = "diff-" + uname()
    api.ok("/bot/sendmessage", world.bot.token,
           {"group_id": world.group, "message_type": "text", "content": "first"},
           headers={"Idempotency-Key": key})
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/bot/sendmessage", world.bot.token, 409,
            json={"group_id": world.group, "message_type": "text", "content": "second"},
            headers={"Idempotency-Key": key})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_idempotency_key_is_per_caller(api, world):
    other = api.bot(world.owner)
    api.addmember(world.owner.token, world.group, other.id)
    key = "shared-" + uname()
    payload = {"group_id": world.group, "message_type": "text", "content": "per caller"}
    a = api.ok("/bot/sendmessage", world.bot.token, payload, headers={"Idempotency-Key": key})
    b = api.ok("/bot/sendmessage", other.token, payload, headers={"Idempotency-Key": key})
    assert a["message_id"] != b["message_id"]
    assert b["sender_id"] == other.id


def test_idempotency_key_on_app_sendmessage(api, world):
    key = "app-" + uname()
    payload = {"group_id": world.group, "message_type": "text", "content": "app once " + key}
    results = thread_map(lambda _: api.call("/app/sendmessage", world.owner.token, json=payload,
                                            headers={"Idempotency-Key": key}), 10)
    assert [s for s, _ in results] == [200] * 10, results
    assert len({b["data"]["message_id"] for _, b in results}) == 1
    stored = [m for m in api.history(world.owner.token, group_id=world.group)
              if m.get("content") == payload["content"]]
    assert len(stored) == 1
    api.err("/app/sendmessage", world.owner.token, 409,
            json={**payload, "content": "changed"}, headers={"Idempotency-Key": key})


def test_idempotency_key_too_long_is_400(api, world):
    # bot-api.md: a key is 1..128 printable ASCII; anything else is an invalid parameter
    before = api.history_ids(world.owner.token, group_id=world.group)
    payload = {"group_id": world.group, "message_type": "text", "content": "long key"}
    api.ok("/bot/sendmessage", world.bot.token, payload, headers={"Idempotency-Key": "k" * 128})
    mid = api.history_ids(world.owner.token, group_id=world.group)
    assert len(mid) == len(before) + 1
    api.err("/bot/sendmessage", world.bot.token, 400, json=payload,
            headers={"Idempotency-Key": "k" * 129})
    assert api.history_ids(world.owner.token, group_id=world.group) == mid


def test_malformed_utf8_variants_are_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    head = b'{"group_id":"' + world.group.encode() + b'","message_type":"text","content":"'
    for bad in (b"\xc0\xaf",          # overlong '/'
                b"\xed\xa0\xbd",       # a UTF-16 surrogate encoded in UTF-8
                b"\xf4\x90\x80\x80",   # above U+10FFFF
                b"\xe2\x82",           # truncated sequence
                b"\xff"):
        r = api.request("POST", "/bot/sendmessage", world.bot.token, data=head + bad + b'"}',
                        headers={"Content-Type": "application/json"})
        assert_error(r.status_code, api.body_of(r), 400)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_invalid_utf8_in_query_string_is_400(api, world):
    r = requests.get(api.url("/bot/getgroup?group_id=group_%E9"),
                     headers={"Authorization": "Bearer " + world.bot.token})
    assert_error(r.status_code, api.body_of(r), 400)


def test_nul_in_form_body_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    raw = b"group_id=" + world.group.encode() + b"&message_type=text&content=a%00b"
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r.status_code, api.body_of(r), 400, "content")
    assert api.history_ids(world.owner.token, group_id=world.group) == before
