"""Helpers for the black-box tests of libbink, the bink CLI and the example
bots (tests/api/test_sdk_*.py). The binaries come from the environment that
CMake sets for the api test: $BINK_CLI and $EXAMPLES_DIR (defaults: the
build/ tree next to this checkout)."""
import http.server
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINK_CLI = os.environ.get("BINK_CLI", os.path.join(ROOT, "build", "cli", "bink"))
EXAMPLES_DIR = os.environ.get("EXAMPLES_DIR", os.path.join(ROOT, "build", "examples"))
BUILD_DIR = os.environ.get("BINK_BUILD_DIR", os.path.join(ROOT, "build"))
SANITIZE = os.environ.get("BINK_SANITIZE", "0") not in ("", "0", "OFF", "FALSE")

def _png_1x1():
    """A valid 1x1 PNG (the server sniffs content, so it must be real)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00")) + chunk(b"IEND", b""))


PNG_1x1 = _png_1x1()


def example(name):
    return os.path.join(EXAMPLES_DIR, name)


def clean_env(url=None, token=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINK_")}
    if url is not None:
        env["BINK_URL"] = url
    if token is not None:
        env["BINK_TOKEN"] = token
    env.update(extra)
    return env


def run_cli(args, url=None, token=None, env=None, timeout=60, input=None):
    """Runs bink with args; returns the CompletedProcess (text mode)."""
    e = clean_env(url, token)
    if env:
        e.update(env)
    return subprocess.run([BINK_CLI, *args], env=e, capture_output=True, text=True,
                          timeout=timeout, input=input)


def assert_no_token(proc, token):
    assert token not in proc.stdout and token not in proc.stderr, "the token was printed"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A long-running child (a bot, or `bink webhook listen`) whose output
    lines are collected in the background."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err = [], []
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._drain, args=(s, lst), daemon=True)
                         for s, lst in ((self.proc.stdout, self.out),
                                        (self.proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    def _drain(self, stream, lines):
        for raw in iter(stream.readline, b""):
            with self._cond:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, needle, stream="err", timeout=15.0):
        lines = self.err if stream == "err" else self.out
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._alive_threads():
                    raise AssertionError(
                        f"no line containing {needle!r} on std{stream} within {timeout}s; "
                        f"exit={self.proc.poll()}\nstdout:\n" + "\n".join(self.out) +
                        "\nstderr:\n" + "\n".join(self.err))
                self._cond.wait(min(left, 0.2))

    def _alive_threads(self):
        return any(t.is_alive() for t in self._threads)

    def lines(self, stream="out"):
        with self._cond:
            return list(self.out if stream == "out" else self.err)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "timeout (killed)"
        for t in self._threads:
            t.join(timeout=5)
        return self.proc.returncode

    def text(self):
        return "stdout:\n" + "\n".join(self.out) + "\nstderr:\n" + "\n".join(self.err)


class FakeServer:
    """A tiny HTTP server whose every POST gets the next canned answer
    (status, headers, body bytes, and how: 'normal', 'short' = announce more
    bytes than sent and close, 'close' = close without answering)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, payload, how = (fake.answers.pop(0) if len(fake.answers) > 1
                                                 else fake.answers[0])
                if how == "close":
                    self.close_connection = True
                    return
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                length = len(payload) + (100 if how == "short" else 0)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if how == "short":
                    self.close_connection = True

            do_POST = _answer
            do_GET = _answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
