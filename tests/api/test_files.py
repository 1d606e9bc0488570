"""Files: uploads, media messages, stickers, contacts and downloads (issue 3).

Contract: the seed's 上传文件 / 消息类型, bot-api.md (uploadfile, sendmessage Media,
getfile), app-api.md (/app/uploadfile, /app/stickers), server.md (Storage: files,
binkd stickers import). Every bad input checks the envelope, that no file record
was made (the database is read directly) and that <data>/tmp holds no leftover.
"""
import hashlib
import json
import os
import socket
import struct
import subprocess
import time
import urllib.parse
import zlib

import pytest
import requests

from conftest import BINKD, Api, Server, assert_error, db_env, db_scalar, unknown_like


# --------------------------------------------------------------------------
# sample files, one per type of the seed's table (sniffable by libmagic)
# --------------------------------------------------------------------------
def _png(w=2, h=2):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _box(t, d):
    return struct.pack(">I", 8 + len(d)) + t + d


PNG = _png()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 100 + b"\xff\xd9"
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
       b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
MP4 = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41") + _box(b"free", b"") + _box(b"mdat", b"\x00" * 64)
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 2
WAV = (b"RIFF" + struct.pack("<I", 44) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
       + b"data" + struct.pack("<I", 8) + b"\x00" * 8)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEXT = b"hello, this is plain text\n"

MEDIA = {  # message_type -> (file name, bytes, sniffed type)
    "image": ("photo.png", PNG, "image/png"),
    "video": ("clip.mp4", MP4, "video/mp4"),
    "audio": ("song.mp3", MP3, "audio/mpeg"),
    "file": ("report.pdf", PDF, "application/pdf"),
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def files_count(server):
    return db_scalar(server.data_dir, "SELECT count(*) FROM files")


def tmp_files(server):
    d = os.path.join(server.data_dir, "tmp")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def wait_tmp_empty(server, timeout=5.0):
    deadline = time.monotonic() + timeout
    while tmp_files(server) and time.monotonic() < deadline:
        time.sleep(0.02)
    return tmp_files(server)


def upload(api, token, files=None, data=None, headers=None, path="/bot/uploadfile"):
    h = {"Authorization": "Bearer " + token}
    h.update(headers or {})
    r = requests.post(api.url(path), files=files, data=data, headers=h, timeout=30)
    return r.status_code, api.body_of(r)


def upload_ok(api, token, name, content, path="/bot/uploadfile", ctype=None):
    f = (name, content, ctype) if ctype else (name, content)
    status, body = upload(api, token, files={"file": f}, path=path)
    assert status == 200 and body["code"] == 200, body
    return body["data"]


def multipart(parts, boundary="bInK-bOuNdArY-42"):
    """A hand-made multipart/form-data body: parts = [(header lines, bytes)]."""
    out = b""
    for headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, {"Content-Type": "multipart/form-data; boundary=" + boundary}


def download(api, token, file_id, headers=None, method="GET"):
    h = {"Authorization": "Bearer " + token}
    h.update(headers or {})
    return requests.request(method, api.url("/file/" + file_id), headers=h, timeout=30)


class Nothing:
    """Asserts that a bad request stored nothing: no new file record and no
    temporary file left in <data>/tmp."""

    def __init__(self, server):
        self.server = server

    def __enter__(self):
        self.before = files_count(self.server)
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            assert files_count(self.server) == self.before, "a file record was stored"
            assert wait_tmp_empty(self.server) == [], "a temporary file was left behind"


@pytest.fixture
def nothing(server):
    return Nothing(server)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A server whose upload limit is 1000 bytes."""
    d = str(tmp_path_factory.mktemp("binkd-small"))
    s = Server(os.path.join(d, "data"), ["--max-upload-bytes", "1000"])
    s.start()
    yield s
    assert s.stop() == 0


# --------------------------------------------------------------------------
# the seed's upload-then-send flow
# --------------------------------------------------------------------------
def test_seed_python_upload_then_send_image(api, world):
    """The seed's Python example, verbatim but for base URL and token."""
    bot_token, group_id = world.bot.token, world.group

    def upload_file(bot_token, file_path):
        url = api.url("/bot/uploadfile")
        headers = {"Authorization": f"Bearer {bot_token}"}
        with open(file_path, "rb") as f:
            files = {"file": f}
            response = requests.post(url, files=files, headers=headers)
        result = response.json()
        if result.get("code") == 200:
            return result["data"]["file_id"]
        raise RuntimeError(result.get("msg", "upload failed"))

    def send_image_message(bot_token, group_id, file_id, caption=""):
        url = api.url("/bot/sendmessage")
        headers = {"Authorization": f"Bearer {bot_token}", "Content-Type": "application/json"}
        data = {"group_id": group_id, "message_type": "image", "file_id": file_id,
                "content": caption}
        response = requests.post(url, json=data, headers=headers)
        return response.json()

    path = os.path.join(api.server.data_dir, "..", "image.jpg")
    with open(path, "wb") as f:
        f.write(JPEG)
    file_id = upload_file(bot_token, path)
    assert file_id.startswith("file_")
    sent = send_image_message(bot_token, group_id, file_id, "说明")
    assert sent["code"] == 200, sent
    m = sent["data"]
    assert m["message_type"] == "image" and m["file_id"] == file_id and m["content"] == "说明"
    assert m["file"] == {"file_name": "image.jpg", "mime_type": "image/jpeg",
                         "file_size": len(JPEG)}
    seen = api.find(world.owner.token, m["message_id"], group_id=group_id)
    assert seen["file"] == m["file"] and seen["file_id"] == file_id
    r = download(api, world.owner.token, file_id)
    assert r.status_code == 200 and r.content == JPEG
    assert r.headers["Content-Type"] == "image/jpeg"


def test_seed_curl_upload(api, world, tmp_path):
    """The seed's curl line: curl -X POST …/bot/uploadfile -H "Authorization: …" -F "file=@…"."""
    p = tmp_path / "image.png"
    p.write_bytes(PNG)
    out = subprocess.run(["curl", "-s", "-X", "POST", api.url("/bot/uploadfile"),
                          "-H", f"Authorization: Bearer {world.bot.token}",
                          "-F", f"file=@{p}"], capture_output=True, timeout=30, check=True)
    body = json.loads(out.stdout)
    assert body["code"] == 200, body
    d = body["data"]
    assert d["file_id"].startswith("file_")
    assert (d["file_name"], d["mime_type"], d["file_size"]) == ("image.png", "image/png", len(PNG))
    assert d["sha256"] == hashlib.sha256(PNG).hexdigest()
    out = subprocess.run(["curl", "-s", "-X", "POST", api.url("/bot/sendmessage"),
                          "-H", f"Authorization: Bearer {world.bot.token}",
                          "-H", "Content-Type: application/json",
                          "-d", json.dumps({"group_id": world.group, "message_type": "image",
                                            "content": "可选说明", "file_id": d["file_id"]})],
                         capture_output=True, timeout=30, check=True)
    sent = json.loads(out.stdout)
    assert sent["code"] == 200 and sent["data"]["file"]["mime_type"] == "image/png", sent


# --------------------------------------------------------------------------
# every message type of the seed, by a bot and by a user
# --------------------------------------------------------------------------
def _first_sticker(api, token):
    d = api.ok("/app/stickers", token)
    assert d["stickers"], "the default sticker set is missing"
    return d["stickers"][0]


@pytest.mark.parametrize("sender", ["bot", "user"])
@pytest.mark.parametrize("mtype", ["image", "video", "audio", "file", "sticker", "contact"])
def test_every_type_sent_and_read_back(api, world, sender, mtype):
    member = api.user()
    api.addmember(world.owner.token, world.group, member.id)
    token = world.bot.token if sender == "bot" else world.owner.token
    send_path = "/bot/sendmessage" if sender == "bot" else "/app/sendmessage"
    upload_path = "/bot/uploadfile" if sender == "bot" else "/app/uploadfile"
    msg = {"group_id": world.group, "message_type": mtype}
    expect_bytes = None
    if mtype in MEDIA:
        name, content, mime = MEDIA[mtype]
        up = upload_ok(api, token, name, content, path=upload_path)
        assert up["mime_type"] == mime
        msg.update(file_id=up["file_id"], content="caption ✓")
        expect_bytes = content
    elif mtype == "sticker":
        st = _first_sticker(api, world.owner.token)
        msg["file_id"] = st["sticker_id"]
    else:
        msg["file_id"] = member.id
    m = api.ok(send_path, token, msg)
    assert m["message_type"] == mtype and m["file_id"] == msg["file_id"]
    back = api.find(member.token, m["message_id"], group_id=world.group)
    assert back is not None
    for key in ("file", "sticker", "contact", "file_id", "content"):
        assert back[key] == m[key], key
    if mtype in MEDIA:
        assert back["file"] == {"file_name": MEDIA[mtype][0], "mime_type": MEDIA[mtype][2],
                                "file_size": len(expect_bytes)}
        assert back["sticker"] is None and back["contact"] is None
        # the other member (not the uploader) may download it: it is in a message they see
        r = download(api, member.token, m["file_id"])
        assert r.status_code == 200 and r.content == expect_bytes
        assert r.headers["Content-Type"] == MEDIA[mtype][2]
        assert int(r.headers["Content-Length"]) == len(expect_bytes)
    elif mtype == "sticker":
        assert back["sticker"]["sticker_id"] == msg["file_id"]
        assert set(back["sticker"]) == {"sticker_id", "set_name", "emoji", "mime_type"}
        assert back["file"] is None
        r = download(api, member.token, msg["file_id"])
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    else:
        assert back["contact"] == {"user_id": member.id, "username": member.username,
                                   "display_name": member.username.title(), "is_bot": False}
        assert back["file"] is None and back["content"] == ""


def test_private_chat_file_both_ways(api, world):
    """A user sends the bot a file privately; the bot can fetch it; and back."""
    up = upload_ok(api, world.owner.token, "notes.txt", TEXT, path="/app/uploadfile")
    m = api.ok("/app/sendmessage", world.owner.token,
               {"target_user_id": world.bot.id, "message_type": "file", "file_id": up["file_id"]})
    r = download(api, world.bot.token, up["file_id"])
    assert r.status_code == 200 and r.content == TEXT
    info = api.ok("/bot/getfile", world.bot.token, {"file_id": up["file_id"]})
    assert info["download_url"].endswith("/file/" + up["file_id"])
    assert info["download_url"].startswith(api.base)
    # the bot forwards the same file_id it received (visible to it) to the group
    fwd = api.ok("/bot/sendmessage", world.bot.token,
                 {"group_id": world.group, "message_type": "file", "file_id": up["file_id"]})
    assert fwd["file"]["file_name"] == "notes.txt"
    assert m["file"] == fwd["file"]


def test_getfile_and_download_headers(api, world):
    up = upload_ok(api, world.bot.token, "clip.mp4", MP4)
    d = api.ok("/bot/getfile", world.bot.token, {"file_id": up["file_id"]})
    assert d == {"file_id": up["file_id"], "file_name": "clip.mp4", "mime_type": "video/mp4",
                 "file_size": len(MP4), "download_url": api.base + "/file/" + up["file_id"]}
    d2 = api.ok("/bot/getfile", world.bot.token, params={"file_id": up["file_id"]}, method="GET")
    assert d2 == d
    r = requests.get(d["download_url"], headers={"Authorization": "Bearer " + world.bot.token})
    assert r.status_code == 200 and r.content == MP4
    assert r.headers["ETag"] == '"%s"' % hashlib.sha256(MP4).hexdigest()
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Disposition"] == 'inline; filename="clip.mp4"'
    assert "X-Request-Id" in r.headers
    # If-None-Match -> 304 without a body
    r = download(api, world.bot.token, up["file_id"], {"If-None-Match": r.headers["ETag"]})
    assert r.status_code == 304 and r.content == b""
    r = download(api, world.bot.token, up["file_id"], {"If-None-Match": 'W/"x", *'})
    assert r.status_code == 304
    r = download(api, world.bot.token, up["file_id"], {"If-None-Match": '"other"'})
    assert r.status_code == 200 and r.content == MP4
    # HEAD: the headers, no body
    r = download(api, world.bot.token, up["file_id"], method="HEAD")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) == len(MP4)


def test_range_requests(api, world):
    content = bytes(range(256)) * 4 + PDF
    up = upload_ok(api, world.bot.token, "data.bin", content)
    n = len(content)
    for spec, lo, hi in [("bytes=0-9", 0, 9), ("bytes=10-", 10, n - 1), ("bytes=-5", n - 5, n - 1),
                         ("bytes=100-99999", 100, n - 1), ("bytes=-99999", 0, n - 1)]:
        r = download(api, world.bot.token, up["file_id"], {"Range": spec})
        assert r.status_code == 206, spec
        assert r.content == content[lo:hi + 1], spec
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{n}", spec
        assert int(r.headers["Content-Length"]) == hi - lo + 1
    # several ranges or a bad unit: the whole file
    for spec in ("bytes=0-1,5-6", "items=0-1", "bytes=9-3"):
        r = download(api, world.bot.token, up["file_id"], {"Range": spec})
        assert r.status_code == 200 and r.content == content, spec
    # If-Range with another tag: the whole file
    r = download(api, world.bot.token, up["file_id"], {"Range": "bytes=0-0", "If-Range": '"nope"'})
    assert r.status_code == 200 and r.content == content


def test_range_beyond_end_is_416(api, world):
    up = upload_ok(api, world.bot.token, "a.txt", TEXT)
    for spec in (f"bytes={len(TEXT)}-", f"bytes={len(TEXT) + 10}-{len(TEXT) + 20}", "bytes=-0"):
        r = download(api, world.bot.token, up["file_id"], {"Range": spec})
        assert r.status_code == 416, spec
        assert r.headers["Content-Range"] == f"bytes */{len(TEXT)}"
        body = r.json()
        assert body["code"] == 416 and body["data"] is None and "Range" in body["msg"]


def test_same_bytes_stored_once_one_record_per_upload(api, world):
    content = b"dedup me " + os.urandom(16)
    a = upload_ok(api, world.bot.token, "one.bin", content)
    b = upload_ok(api, world.owner.token, "two.bin", content, path="/app/uploadfile")
    assert a["file_id"] != b["file_id"] and a["sha256"] == b["sha256"]
    sha = a["sha256"]
    blob = os.path.join(api.server.data_dir, "files", sha[:2], sha[2:4], sha)
    assert os.path.isfile(blob)
    with open(blob, "rb") as f:
        assert f.read() == content
    # the temporary name goes when the request completes (just after the reply)
    assert wait_tmp_empty(api.server) == []


def test_upload_idempotency_key(api, world):
    before = files_count(api.server)
    h = {"Idempotency-Key": "up-" + os.urandom(6).hex()}
    s1, b1 = upload(api, world.bot.token, files={"file": ("x.txt", TEXT)}, headers=h)
    s2, b2 = upload(api, world.bot.token, files={"file": ("x.txt", TEXT)}, headers=h)
    assert s1 == s2 == 200 and b1 == b2
    assert files_count(api.server) == before + 1
    s3, b3 = upload(api, world.bot.token, files={"file": ("x.txt", TEXT + b"!")}, headers=h)
    assert_error(s3, b3, 409, "Idempotency-Key")
    assert files_count(api.server) == before + 1


def test_stickers_catalogue(api, world):
    d = api.ok("/app/stickers", world.owner.token)
    got = api.ok("/app/stickers", world.owner.token, method="GET")
    assert d == got
    bink = [s for s in d["stickers"] if s["set_name"] == "bink"]
    assert len(bink) >= 8
    for s in bink:
        assert s["sticker_id"].startswith("sticker_") and s["emoji"] and s["mime_type"] == "image/png"
        r = download(api, world.owner.token, s["sticker_id"])
        assert r.status_code == 200 and len(r.content) == s["file_size"]
    m = api.ok("/bot/sendmessage", world.bot.token, {"group_id": world.group, "message_type": "sticker",
                                                     "file_id": bink[1]["sticker_id"]})
    assert m["sticker"] == {k: bink[1][k] for k in ("sticker_id", "set_name", "emoji", "mime_type")}


def test_caption_limit_on_media(api, world):
    up = upload_ok(api, world.bot.token, "p.png", PNG)
    base = {"group_id": world.group, "message_type": "image", "file_id": up["file_id"]}
    api.ok("/bot/sendmessage", world.bot.token, {**base, "content": "é" * 1024})
    api.err("/bot/sendmessage", world.bot.token, 400, "content", json={**base, "content": "é" * 1025})


def test_types_must_fit(api, world):
    png = upload_ok(api, world.bot.token, "p.png", PNG)
    for mtype in ("video", "audio"):
        msg = api.err("/bot/sendmessage", world.bot.token, 400, "image/png", mtype,
                      json={"group_id": world.group, "message_type": mtype, "file_id": png["file_id"]})
        assert "file_id" in msg
    wav = upload_ok(api, world.bot.token, "s.wav", WAV)
    assert wav["mime_type"] == "audio/wav"
    api.ok("/bot/sendmessage", world.bot.token,
           {"group_id": world.group, "message_type": "audio", "file_id": wav["file_id"]})
    gif = upload_ok(api, world.bot.token, "g.gif", GIF)
    api.ok("/bot/sendmessage", world.bot.token,
           {"group_id": world.group, "message_type": "file", "file_id": gif["file_id"]})
    # a sticker id is not a file for media types
    st = _first_sticker(api, world.owner.token)
    api.err("/bot/sendmessage", world.bot.token, 404, "file_id",
            json={"group_id": world.group, "message_type": "image", "file_id": st["sticker_id"]})


def test_not_visible_to_outsiders(api, world):
    up = upload_ok(api, world.bot.token, "secret.pdf", PDF)
    outsider = api.user()
    api.err("/app/getfile", outsider.token, 404, up["file_id"], json={"file_id": up["file_id"]})
    r = download(api, outsider.token, up["file_id"])
    assert_error(r.status_code, r.json(), 404, "file_id")
    # sent to the group: members see it, the outsider still not
    api.ok("/bot/sendmessage", world.bot.token,
           {"group_id": world.group, "message_type": "file", "file_id": up["file_id"]})
    assert download(api, world.owner.token, up["file_id"]).status_code == 200
    assert download(api, outsider.token, up["file_id"]).status_code == 404


def test_download_needs_a_token(api, world):
    up = upload_ok(api, world.bot.token, "p.png", PNG)
    r = requests.get(api.url("/file/" + up["file_id"]))
    assert_error(r.status_code, r.json(), 401, "token")
    r = download(api, "b1.nottherightone", up["file_id"])
    assert_error(r.status_code, r.json(), 401, "token")
    r = requests.post(api.url("/file/" + up["file_id"]),
                      headers={"Authorization": "Bearer " + world.bot.token})
    assert r.status_code == 405


# --------------------------------------------------------------------------
# bad input: each stores nothing
# --------------------------------------------------------------------------
def test_no_file_part(api, world, nothing):
    body, h = multipart([(b'Content-Disposition: form-data; name="caption"', b"hello")])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "file")


def test_two_file_parts(api, world, nothing):
    with nothing:
        s, b = upload(api, world.bot.token, files=[("file", ("a.png", PNG)), ("file", ("b.png", PNG))])
        assert_error(s, b, 400, "file")


def test_two_file_parts_large_first(api, world, nothing):
    big = os.urandom(300_000)
    with nothing:
        s, b = upload(api, world.bot.token, files=[("file", ("a.bin", big)), ("file", ("b.png", PNG))])
        assert_error(s, b, 400, "file")


def test_empty_file(api, world, nothing):
    with nothing:
        s, b = upload(api, world.bot.token, files={"file": ("empty.txt", b"")})
        assert_error(s, b, 400, "file", "empty")


def test_json_body_is_415(api, world, nothing):
    with nothing:
        s, b = api.call("/bot/uploadfile", world.bot.token, json={"file": "x"})
        assert_error(s, b, 415, "multipart/form-data")
        s, b = api.call("/app/uploadfile", world.owner.token, json={"file": "x"})
        assert_error(s, b, 415, "multipart/form-data")
        s, b = api.call("/bot/uploadfile", world.bot.token)
        assert_error(s, b, 415)


def test_part_named_upload(api, world, nothing):
    with nothing:
        s, b = upload(api, world.bot.token, files={"upload": ("a.png", PNG)})
        assert_error(s, b, 400, "file")


def test_unauthenticated_upload(api, nothing):
    with nothing:
        r = requests.post(api.url("/bot/uploadfile"), files={"file": ("a.png", PNG)})
        assert_error(r.status_code, r.json(), 401, "token")
        r = requests.post(api.url("/bot/uploadfile"), files={"file": ("a.png", PNG)},
                          headers={"Authorization": "Bearer b1.wrong"})
        assert_error(r.status_code, r.json(), 401, "token")


def test_other_parts_are_ignored_and_chunked_bodies_work(api, world):
    body, h = multipart([(b'Content-Disposition: form-data; name="caption"', b"ignored"),
                         (b'Content-Disposition: form-data; name="file"; filename="p.png"\r\n'
                          b"Content-Type: application/octet-stream", PNG),
                         (b'Content-Disposition: form-data; name="extra"', b"\r\n--not-a-boundary")])
    s, b = upload(api, world.bot.token, data=body, headers=h)
    assert s == 200 and b["data"]["file_size"] == len(PNG) and b["data"]["mime_type"] == "image/png", b

    def gen():  # no Content-Length: Transfer-Encoding: chunked, in small pieces
        for i in range(0, len(body), 7):
            yield body[i:i + 7]
    r = requests.post(api.url("/bot/uploadfile"), data=gen(),
                      headers={**h, "Authorization": "Bearer " + world.bot.token})
    assert r.status_code == 200 and r.json()["data"]["sha256"] == hashlib.sha256(PNG).hexdigest()
    # Expect: 100-continue, as curl sends for large bodies
    big = os.urandom(2 << 20)
    s, b = upload(api, world.bot.token, files={"file": ("big.bin", big)},
                  headers={"Expect": "100-continue"})
    assert s == 200 and b["data"]["sha256"] == hashlib.sha256(big).hexdigest()


def test_path_components_stripped(api, world):
    d = upload_ok(api, world.bot.token, "../../etc/passwd", TEXT)
    assert d["file_name"] == "passwd"
    body, h = multipart([(b'Content-Disposition: form-data; name="file"; filename="C:\\Users\\a\\x.pdf"', PDF)])
    s, b = upload(api, world.bot.token, data=body, headers=h)
    assert s == 200 and b["data"]["file_name"] == "x.pdf", b
    for bad in ("..", "/", "."):
        body, h = multipart([(f'Content-Disposition: form-data; name="file"; filename="{bad}"'.encode(), PDF)])
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert s == 200 and b["data"]["file_name"] == "file", (bad, b)


def test_rfc5987_filename_only(api, world):
    body, h = multipart([(b"Content-Disposition: form-data; name=\"file\"; "
                          b"filename*=UTF-8''%E6%8B%9B%E8%81%98.pdf", PDF)])
    s, b = upload(api, world.bot.token, data=body, headers=h)
    assert s == 200, b
    assert b["data"]["file_name"] == "招聘.pdf"
    r = download(api, world.bot.token, b["data"]["file_id"])
    assert r.headers["Content-Disposition"] == \
        "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E6%8B%9B%E8%81%98.pdf"
    cd = r.headers["Content-Disposition"]
    assert urllib.parse.unquote(cd.split("''", 1)[1]) == "招聘.pdf"
    # filename* wins over filename; raw UTF-8 filename accepted
    body, h = multipart([(b"Content-Disposition: form-data; name=\"file\"; filename=\"fallback.pdf\"; "
                          b"filename*=utf-8''%E6%8B%9B%E8%81%98.pdf", PDF)])
    assert upload(api, world.bot.token, data=body, headers=h)[1]["data"]["file_name"] == "招聘.pdf"
    body, h = multipart([('Content-Disposition: form-data; name="file"; filename="简历 v2.pdf"'.encode(), PDF)])
    assert upload(api, world.bot.token, data=body, headers=h)[1]["data"]["file_name"] == "简历 v2.pdf"
    # requests' own encoding of a non-ASCII name
    assert upload_ok(api, world.bot.token, "résumé.pdf", PDF)["file_name"] == "résumé.pdf"


def test_long_name_cut_to_255_bytes(api, world):
    name = "名" * 100 + ".pdf"  # 304 bytes
    d = upload_ok(api, world.bot.token, name, PDF)
    assert len(d["file_name"].encode()) <= 255 and d["file_name"].endswith(".pdf")
    assert d["file_name"].startswith("名" * 80)


def test_png_sent_as_text_plain_is_png(api, world):
    d = upload_ok(api, world.bot.token, "pic.txt", PNG, ctype="text/plain")
    assert d["mime_type"] == "image/png"
    m = api.ok("/bot/sendmessage", world.bot.token,
               {"group_id": world.group, "message_type": "image", "file_id": d["file_id"]})
    assert m["file"]["mime_type"] == "image/png"


def test_text_file_as_image_is_400_naming_the_type(api, world):
    d = upload_ok(api, world.bot.token, "fake.png", TEXT, ctype="image/png")
    assert d["mime_type"] == "text/plain"
    api.err("/bot/sendmessage", world.bot.token, 400, "text/plain", "image",
            json={"group_id": world.group, "message_type": "image", "file_id": d["file_id"]})


def test_another_bots_file_id_is_404(api, world):
    other_owner = api.user()
    other = api.bot(other_owner)
    d = upload_ok(api, other.token, "p.png", PNG)
    api.err("/bot/sendmessage", world.bot.token, 404, "file_id", d["file_id"],
            json={"group_id": world.group, "message_type": "image", "file_id": d["file_id"]})
    api.err("/bot/getfile", world.bot.token, 404, d["file_id"], json={"file_id": d["file_id"]})
    assert download(api, world.bot.token, d["file_id"]).status_code == 404
    # a forged id of the right shape, and garbage
    for fid in (unknown_like(d["file_id"]), "file_nope", "nothing"):
        api.err("/bot/sendmessage", world.bot.token, 404, "file_id",
                json={"group_id": world.group, "message_type": "image", "file_id": fid})


def test_unknown_sticker_is_404(api, world):
    st = _first_sticker(api, world.owner.token)
    for sid in (unknown_like(st["sticker_id"]), "sticker_x"):
        api.err("/bot/sendmessage", world.bot.token, 404, "file_id", sid,
                json={"group_id": world.group, "message_type": "sticker", "file_id": sid})
        api.err("/app/sendmessage", world.owner.token, 404, "file_id",
                json={"group_id": world.group, "message_type": "sticker", "file_id": sid})


def test_unknown_contact_is_404(api, world):
    for cid in (unknown_like(world.owner.id), unknown_like(world.bot.id)):
        api.err("/bot/sendmessage", world.bot.token, 404, "file_id", cid,
                json={"group_id": world.group, "message_type": "contact", "file_id": cid})
    m = api.ok("/bot/sendmessage", world.bot.token,
               {"group_id": world.group, "message_type": "contact", "file_id": world.bot.id})
    assert m["contact"]["is_bot"] is True and set(m["contact"]) == {"user_id", "username",
                                                                    "display_name", "is_bot"}


def test_limit_exact_and_one_byte_over(small):
    api = Api(small)
    owner = api.user()
    bot = api.bot(owner)
    d = upload_ok(api, bot.token, "k.bin", b"k" * 1000)
    assert d["file_size"] == 1000
    with Nothing(small):
        s, b = upload(api, bot.token, files={"file": ("big.bin", b"k" * 1001)})
        assert_error(s, b, 413, "1000")
    with Nothing(small):
        s, b = upload(api, owner.token, files={"file": ("big.bin", os.urandom(5000))},
                      path="/app/uploadfile")
        assert_error(s, b, 413)
    # announced far beyond the limit: refused before the body is read
    with Nothing(small):
        s, b = upload(api, bot.token, files={"file": ("huge.bin", b"\0" * (3 << 20))})
        assert_error(s, b, 413)
    # the JSON body cap does not apply to uploads, the upload limit does not to JSON
    assert api.ok("/bot/getme", bot.token)["bot_id"] == bot.id


def test_client_disconnects_mid_upload(server, api, world):
    before = files_count(server)
    host, port = api.base.split("//")[1].split(":")
    boundary = "cUt-oFf"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    total = len(head) + 10 * 1024 * 1024
    s = socket.create_connection((host, int(port)))
    try:
        s.sendall((f"POST /bot/uploadfile HTTP/1.1\r\nHost: {host}\r\n"
                   f"Authorization: Bearer {world.bot.token}\r\n"
                   f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                   f"Content-Length: {total}\r\n\r\n").encode() + head)
        chunk = os.urandom(64 * 1024)
        for _ in range(8):
            s.sendall(chunk)
        deadline = time.monotonic() + 5
        while not tmp_files(server) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert tmp_files(server), "the upload was not being streamed to <data>/tmp"
    finally:
        s.close()
    left = wait_tmp_empty(server)
    assert left == [], "the abandoned upload's file was left behind:\n" + "\n".join(server.lines[-8:])
    assert files_count(server) == before
    assert api.ok("/bot/getme", world.bot.token)["bot_id"] == world.bot.id


def test_malformed_multipart(api, world, nothing):
    with nothing:
        s, b = upload(api, world.bot.token, data=b"no boundaries here",
                      headers={"Content-Type": "multipart/form-data; boundary=zzz"})
        assert_error(s, b, 400, "multipart")
        s, b = upload(api, world.bot.token, data=b"x",
                      headers={"Content-Type": "multipart/form-data"})
        assert_error(s, b, 415, "boundary")
        body, h = multipart([(b'Content-Disposition: form-data; name="file"; filename="a"', PNG)])
        s, b = upload(api, world.bot.token, data=body[:-30], headers=h)  # cut short
        assert_error(s, b, 400, "multipart")


# --------------------------------------------------------------------------
# QA findings on uploads (D1..D8): parts, headers, limits, downloads
# --------------------------------------------------------------------------
def test_second_file_part_behind_long_headers(api, world, nothing):
    """D1a: a second file part whose header block is longer than a small
    header buffer is still a second file part, never glued to the first."""
    pad = b"X-Pad: " + b"p" * 5000
    body, h = multipart([(b'Content-Disposition: form-data; name="file"; filename="a.txt"', b"AAAA"),
                         (b'Content-Disposition: form-data; name="file"; filename="b.txt"\r\n' + pad,
                          b"BBBB")])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "file", "more than one part")
    # the padding before the Content-Disposition, and a lone file part with it
    body, h = multipart([(b'Content-Disposition: form-data; name="file"; filename="a.txt"', b"AAAA"),
                         (pad + b'\r\nContent-Disposition: form-data; name="file"', b"BBBB")])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "file", "more than one part")
    body, h = multipart([(pad + b'\r\nContent-Disposition: form-data; name="file"; filename="p.txt"',
                          b"padded")])
    s, b = upload(api, world.bot.token, data=body, headers=h)
    assert s == 200 and b["data"]["file_size"] == 6 and b["data"]["file_name"] == "p.txt", b


def test_part_header_longer_than_8k_is_400(api, world, nothing):
    body, h = multipart([(b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                          b"X-Pad: " + b"p" * 9000, b"AAAA")])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "header", "8192")


def test_nested_multipart_mixed_file_part_is_400(api, world, nothing):
    """D1b: RFC 2388's multipart/mixed inside the file part (two files):
    libmicrohttpd hands both over under the name file; refused."""
    inner = (b'--iNnEr\r\nContent-Disposition: file; filename="a.txt"\r\nContent-Type: text/plain\r\n'
             b"\r\nAAAA\r\n"
             b'--iNnEr\r\nContent-Disposition: file; filename="b.txt"\r\nContent-Type: text/plain\r\n'
             b"\r\nBBBB\r\n--iNnEr--")
    body, h = multipart([(b'Content-Disposition: form-data; name="file"\r\n'
                          b"Content-Type: multipart/mixed; boundary=iNnEr", inner)])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "multipart/mixed", "nested")
    # libmicrohttpd's own test finds "Content-type: " anywhere in a header line
    body, h = multipart([(b'Content-Disposition: form-data; name="file"\r\n'
                          b"X-Note: Content-type: multipart/mixed; boundary=iNnEr", inner)])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "nested")
    # in another part as well (it would mix the parts up)
    body, h = multipart([(b'Content-Disposition: form-data; name="files"\r\n'
                          b"Content-Type: multipart/mixed; boundary=iNnEr", inner),
                         (b'Content-Disposition: form-data; name="file"; filename="c.txt"', b"CCCC")])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "nested")


def test_empty_part_then_file_part(api, world):
    """Parts are told apart exactly: an empty part before the file, and the
    file followed by a part with the same file name."""
    body, h = multipart([(b'Content-Disposition: form-data; name="file2"; filename="x.txt"', b""),
                         (b'Content-Disposition: form-data; name="file"; filename="x.txt"', b"DATA"),
                         (b'Content-Disposition: form-data; name="note"; filename="x.txt"', b"TAIL")])
    s, b = upload(api, world.bot.token, data=body, headers=h)
    assert s == 200 and b["data"]["sha256"] == hashlib.sha256(b"DATA").hexdigest(), b


@pytest.mark.parametrize("ctype,boundary", [
    ("Multipart/Form-Data; BOUNDARY=XyZ", "XyZ"),
    ("multipart/form-data; boundary=XyZ; charset=utf-8", "XyZ"),
    ('multipart/form-data; charset="utf-8"; Boundary="a b:c?"', "a b:c?"),
    ("multipart/form-data;boundary=Zz", "Zz"),
])
def test_content_type_forms(api, world, ctype, boundary):
    """D2: parameter names are case-insensitive, other parameters may follow."""
    body, _ = multipart([(b'Content-Disposition: form-data; name="file"; filename="ct.txt"', TEXT)],
                        boundary=boundary)
    s, b = upload(api, world.bot.token, data=body, headers={"Content-Type": ctype})
    assert s == 200 and b["data"]["sha256"] == hashlib.sha256(TEXT).hexdigest(), (ctype, b)


def test_content_type_bad_boundaries(api, world, nothing):
    """D2: a boundary libmicrohttpd cannot use is a clear 400, never a 500."""
    body, _ = multipart([(b'Content-Disposition: form-data; name="file"; filename="b.txt"', TEXT)],
                        boundary="b")
    with nothing:
        s, b = upload(api, world.bot.token, data=body,
                      headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert_error(s, b, 400, "boundary", "too short")
        for bad in ("x" * 71, "a\\tb", '"ends "', '"unclosed', "a;b"):
            s, b = upload(api, world.bot.token, data=body,
                          headers={"Content-Type": "multipart/form-data; boundary=" + bad})
            assert s == 400 and b["code"] == 400 and b["data"] is None, (bad, b)
            assert "boundary" in b["msg"] or "Content-Type" in b["msg"], (bad, b)


def _chunked_until_closed(api, token, head, total, piece=64 * 1024):
    """Sends a chunked upload (head, then zero bytes) of up to `total` bytes
    on a raw socket; returns (bytes sent before the server closed, what it
    answered)."""
    host, port = api.base.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)))
    sent = 0
    try:
        s.sendall((f"POST /bot/uploadfile HTTP/1.1\r\nHost: {host}\r\n"
                   f"Authorization: Bearer {token}\r\n"
                   f"Content-Type: multipart/form-data; boundary=QQ\r\n"
                   f"Transfer-Encoding: chunked\r\n\r\n").encode())
        data = head
        chunk = b"\0" * piece
        try:
            s.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            sent = len(data)
            while sent < total:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(5)
        try:
            got = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            got = b""
        return sent, got
    finally:
        s.close()


def test_chunked_upload_over_the_limit_is_cut_off(small):
    """D3: a chunked upload past the limit is not read on for 64 MiB: the
    server stops at --max-upload-bytes + 1 MiB (libmicrohttpd cannot answer
    mid-body, so it closes the connection)."""
    api = Api(small)
    bot = api.bot(api.user())
    head = b'--QQ\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
    with Nothing(small):
        sent, got = _chunked_until_closed(api, bot.token, head, 64 << 20)
        assert sent < 24 << 20, f"the server read {sent} bytes of a body over its limit"
        assert got == b"" or got.startswith(b"HTTP/1.1 413"), got[:200]
        assert small.wait_log("closing the connection after"), small.log_text()[-2000:]
    # one byte over, ending within the slack: a proper 413
    def gen():
        yield head
        yield b"k" * 1001
        yield b"\r\n--QQ--\r\n"
    with Nothing(small):
        r = requests.post(api.url("/bot/uploadfile"), data=gen(), timeout=30,
                          headers={"Authorization": "Bearer " + bot.token,
                                   "Content-Type": "multipart/form-data; boundary=QQ"})
        assert_error(r.status_code, r.json(), 413, "1000")
    assert api.ok("/bot/getme", bot.token)["bot_id"] == bot.id


def test_chunked_body_total_is_capped(small):
    """D4: ignored parts count too: a chunked body may not exceed
    --max-upload-bytes + 1 MiB in all; within that it is fine."""
    api = Api(small)
    bot = api.bot(api.user())
    head = (b'--QQ\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n\r\n'
            b"tiny\r\n--QQ\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\n")
    with Nothing(small):
        sent, got = _chunked_until_closed(api, bot.token, head, 100 << 20)
        assert sent < 24 << 20, f"the server read {sent} bytes"
        assert got == b"" or got.startswith(b"HTTP/1.1 413"), got[:200]
    def gen():
        yield head
        yield b"e" * (512 * 1024)
        yield b"\r\n--QQ--\r\n"
    r = requests.post(api.url("/bot/uploadfile"), data=gen(), timeout=30,
                      headers={"Authorization": "Bearer " + bot.token,
                               "Content-Type": "multipart/form-data; boundary=QQ"})
    assert r.status_code == 200 and r.json()["data"]["file_size"] == 4, r.text


def test_disposition_tokens_and_case(api, world):
    """D5: name=file; filename=unq.txt and NAME="file"; FILENAME="upper.txt"."""
    for cd, name in [(b"Content-Disposition: form-data; name=file; filename=unq.txt", "unq.txt"),
                     (b'CONTENT-DISPOSITION: FORM-DATA; NAME="file"; FILENAME="upper.txt"', "upper.txt"),
                     (b'Content-Disposition:form-data;name="file";filename="tight.txt"', "tight.txt")]:
        body, h = multipart([(cd, TEXT)])
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert s == 200 and b["data"]["file_name"] == name, (cd, b)
        assert b["data"]["sha256"] == hashlib.sha256(TEXT).hexdigest()


def test_very_long_filename_is_cut_or_named(api, world, nothing):
    """D5: a 4 KB file name is cut to 255 bytes (extension kept); a
    Content-Disposition beyond 8 KiB is a 400 that names the header."""
    long = "n" * 4100 + ".txt"
    body, h = multipart([(f'Content-Disposition: form-data; name="file"; filename="{long}"'.encode(),
                          TEXT)])
    s, b = upload(api, world.bot.token, data=body, headers=h)
    assert s == 200, b
    assert b["data"]["file_name"] == "n" * 251 + ".txt"
    huge = "n" * 9000 + ".txt"
    body, h = multipart([(f'Content-Disposition: form-data; name="file"; filename="{huge}"'.encode(),
                          TEXT)])
    with nothing:
        s, b = upload(api, world.bot.token, data=body, headers=h)
        assert_error(s, b, 400, "Content-Disposition")


def test_304_has_no_content_length(api, world):
    """D6: RFC 9110 8.6 / 15.4.5: a 304 carries no Content-Length: 0."""
    up = upload_ok(api, world.bot.token, "n.txt", TEXT)
    etag = '"%s"' % up["sha256"]
    for method in ("GET", "HEAD"):
        r = download(api, world.bot.token, up["file_id"], {"If-None-Match": etag}, method=method)
        assert r.status_code == 304 and r.content == b""
        assert "Content-Length" not in r.headers, dict(r.headers)
        assert "Transfer-Encoding" not in r.headers, dict(r.headers)
        assert r.headers["ETag"] == etag
    # raw: nothing after the header block
    host, port = api.base.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)))
    try:
        s.sendall((f"GET /file/{up['file_id']} HTTP/1.1\r\nHost: {host}\r\n"
                   f"Authorization: Bearer {world.bot.token}\r\nIf-None-Match: {etag}\r\n\r\n").encode())
        s.settimeout(5)
        raw = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            raw += got
    finally:
        s.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 304") and rest == b"", raw
    assert b"content-length" not in head.lower()


def test_unsafe_names_keep_filename_star(api, world):
    """D7: '"', '%' and '\\' survive through filename*; bidi controls are
    replaced so that they cannot disguise the extension."""
    body, h = multipart([(b'Content-Disposition: form-data; name="file"; '
                          b'filename="say \\"hi\\" 100%.txt"', TEXT)])
    s, b = upload(api, world.bot.token, data=body, headers=h)
    assert s == 200, b
    d = b["data"]
    assert d["file_name"] == 'say "hi" 100%.txt'
    r = download(api, world.bot.token, d["file_id"])
    cd = r.headers["Content-Disposition"]
    assert cd == ("attachment; filename=\"say _hi_ 100_.txt\"; "
                  "filename*=UTF-8''say%20%22hi%22%20100%25.txt"), cd
    assert urllib.parse.unquote(cd.split("''", 1)[1]) == 'say "hi" 100%.txt'
    spoof = "invoice\u202egpj.exe"
    d = upload_ok(api, world.bot.token, spoof, TEXT)
    assert d["file_name"] == "invoice_gpj.exe"
    for ch in ("\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069"):
        assert upload_ok(api, world.bot.token, f"a{ch}b.txt", TEXT)["file_name"] == "a_b.txt"


def test_auth_before_content_type(api, world, nothing):
    """D8: 401 for a missing or wrong token before 415 or 413."""
    with nothing:
        for h in ({}, {"Authorization": "Bearer b1.wrong"}):
            r = requests.post(api.url("/bot/uploadfile"), json={"file": "x"}, headers=h)
            assert_error(r.status_code, r.json(), 401, "token")
            r = requests.post(api.url("/app/uploadfile"), data=b"x",
                              headers={**h, "Content-Type": "text/plain"})
            assert_error(r.status_code, r.json(), 401, "token")
        # a huge announced body with a wrong token: 401 at once, unread
        host, port = api.base.split("//")[1].split(":")
        s = socket.create_connection((host, int(port)))
        try:
            s.sendall((f"POST /bot/uploadfile HTTP/1.1\r\nHost: {host}\r\n"
                       "Authorization: Bearer b1.wrong\r\n"
                       "Content-Type: multipart/form-data; boundary=QQ\r\n"
                       f"Content-Length: {10 << 30}\r\n\r\n").encode())
            s.settimeout(5)
            got = s.recv(65536)
        finally:
            s.close()
        assert got.startswith(b"HTTP/1.1 401"), got[:200]


# --------------------------------------------------------------------------
# binkd stickers import
# --------------------------------------------------------------------------
def test_stickers_import_cli(tmp_path):
    data = tmp_path / "data"
    src = tmp_path / "party_pack"
    src.mkdir()
    (src / "wave_👋.png").write_bytes(_png(3, 3))
    (src / "🎂.gif").write_bytes(GIF)
    (src / "plain.png").write_bytes(_png(4, 4))       # emoji from the manifest
    (src / "noemoji.png").write_bytes(_png(5, 5))     # skipped: no emoji
    (src / "notes_📝.png").write_bytes(TEXT)           # skipped: not an image
    (src / "manifest.json").write_text(json.dumps({"plain.png": "😺"}), encoding="utf-8")
    out = subprocess.run([BINKD, "--data", str(data), "stickers", "import", str(src), "--set", "party"],
                         capture_output=True, timeout=30, env={**os.environ, **db_env(data)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().strip().splitlines()
    assert len(lines) == 3, out.stdout
    err = out.stderr.decode()
    assert "noemoji.png" in err and "notes_📝.png" in err
    # again: replaced, not duplicated
    out = subprocess.run([BINKD, "--data", str(data), "stickers", "import", str(src), "--set", "party"],
                         capture_output=True, timeout=30, env={**os.environ, **db_env(data)})
    assert out.returncode == 0
    bad = subprocess.run([BINKD, "--data", str(data), "stickers", "import", str(src), "--set", "no way"],
                         capture_output=True, timeout=30, env={**os.environ, **db_env(data)})
    assert bad.returncode != 0 and b"set" in bad.stderr
    s = Server(str(data))
    s.start()
    try:
        api = Api(s)
        u = api.user()
        got = api.ok("/app/stickers", u.token)["stickers"]
        party = {x["emoji"]: x for x in got if x["set_name"] == "party"}
        assert set(party) == {"👋", "🎂", "😺"}
        assert party["🎂"]["mime_type"] == "image/gif"
        assert len([x for x in got if x["set_name"] == "bink"]) == 8
        r = download(api, u.token, party["🎂"]["sticker_id"])
        assert r.status_code == 200 and r.content == GIF
    finally:
        assert s.stop() == 0


def test_stickers_reimport_keeps_images(tmp_path):
    """D9: a sticker id always shows the same bytes. Importing the same set
    again with the same images keeps the ids; a changed image under the
    same name is refused (exit status 1), the other files still import."""
    data = tmp_path / "data"
    src = tmp_path / "pack"
    src.mkdir()
    (src / "a_😀.png").write_bytes(_png(3, 3))
    (src / "b_😎.png").write_bytes(_png(4, 4))

    def run():
        return subprocess.run([BINKD, "--data", str(data), "stickers", "import", str(src),
                               "--set", "pack"], capture_output=True, timeout=30,
                              env={**os.environ, **db_env(data)})
    first = run()
    assert first.returncode == 0, first.stderr
    ids = {ln.split("\t")[3]: ln.split("\t")[0] for ln in first.stdout.decode().splitlines()}
    again = run()
    assert again.returncode == 0, again.stderr
    assert {ln.split("\t")[3]: ln.split("\t")[0] for ln in again.stdout.decode().splitlines()} == ids
    (src / "a_😀.png").write_bytes(_png(6, 6))   # new bytes under the same name
    (src / "c_🎉.png").write_bytes(_png(7, 7))   # a new sticker
    third = run()
    assert third.returncode == 1
    err = third.stderr.decode()
    assert "refused a_😀.png" in err and ids["a_😀.png"] in err, err
    assert "c_🎉.png" in third.stdout.decode()
    s = Server(str(data))
    s.start()
    try:
        api = Api(s)
        u = api.user()
        got = {x["sticker_id"]: x for x in api.ok("/app/stickers", u.token)["stickers"]
               if x["set_name"] == "pack"}
        assert len(got) == 3
        r = download(api, u.token, ids["a_😀.png"])
        assert r.status_code == 200 and r.content == _png(3, 3)
    finally:
        assert s.stop() == 0
    # re-importing the same bytes made no new file records
    assert db_scalar(data, "SELECT count(*) FROM files WHERE owner_id = 0 AND "
                           "file_name IN ('a_😀.png', 'b_😎.png')") == 2
