"""`cmake --install` puts libbink, bink.h, bink.pc, the binaries and the man
pages in the usual places, and a ten-line program compiled against the
INSTALLED library with `pkg-config --cflags --libs bink` sends a message."""
import os
import shutil
import subprocess

import pytest

from sdk_support import BUILD_DIR, SANITIZE

PROGRAM = r"""
#include <bink.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  bink_client_options o = {.base_url = getenv("BINK_URL"), .token = getenv("BINK_TOKEN")};
  bink_client *c; bink_message m;
  if (bink_global_init() != BINK_OK || bink_client_new(&o, &c) != BINK_OK) return 2;
  int rc = bink_send_text(c, getenv("GROUP"), "hello from an installed libbink", &m);
  if (rc == BINK_OK) { puts(m.message_id); bink_message_clear(&m); }
  else fprintf(stderr, "%d %s\n", bink_last_error(c)->code, bink_last_error(c)->msg);
  bink_client_free(c); bink_global_cleanup(); return rc;
}
"""


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    if not os.path.isfile(os.path.join(BUILD_DIR, "cmake_install.cmake")):
        pytest.fail(f"no build tree at {BUILD_DIR} (set $BINK_BUILD_DIR)")
    dest = tmp_path_factory.mktemp("prefix")
    p = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", str(dest)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return dest


def test_installed_files(prefix):
    for rel in ["bin/bink", "bin/binkd", "include/bink.h", "lib/libbink.a", "lib/libbink.so",
                "lib/pkgconfig/bink.pc", "share/man/man1/bink.1", "share/man/man8/binkd.8"]:
        assert (prefix / rel).exists(), f"{rel} not installed"
    # the shared library is versioned and exports only the public API
    assert os.path.islink(prefix / "lib/libbink.so")
    nm = shutil.which("nm")
    if nm:
        out = subprocess.run([nm, "-D", "--defined-only", str(prefix / "lib/libbink.so")],
                             capture_output=True, text=True).stdout
        names = [ln.split()[-1] for ln in out.splitlines() if " T " in ln]
        assert "bink_send_message" in names and "bink_webhook_verify" in names
        assert not [n for n in names if n.startswith("bink__")], "internal symbols exported"


def test_pkg_config(prefix):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib/pkgconfig"))
    p = subprocess.run(["pkg-config", "--cflags", "--libs", "bink"], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    flags = p.stdout.split()
    assert "-lbink" in flags
    incs = [f[2:] for f in flags if f.startswith("-I")]
    libs = [f[2:] for f in flags if f.startswith("-L")]
    assert any(os.path.realpath(i) == os.path.realpath(prefix / "include") for i in incs), flags
    assert any(os.path.realpath(d) == os.path.realpath(prefix / "lib") for d in libs), flags
    p = subprocess.run(["pkg-config", "--modversion", "bink"], env=env, capture_output=True,
                       text=True)
    assert p.stdout.strip() == "0.1.0"


def test_ten_line_program_sends_a_message(prefix, api, world, tmp_path):
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib/pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "bink"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    cc = os.environ.get("BINK_CC") or shutil.which("cc") or "cc"
    extra = ["-fsanitize=address,undefined"] if SANITIZE else []
    exe = tmp_path / "prog"
    p = subprocess.run([cc, "-std=c11", "-Wall", "-Werror", *extra, str(src), "-o", str(exe),
                        *flags], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    run_env = dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib"), BINK_URL=api.base,
                   BINK_TOKEN=world.bot.token, GROUP=world.group)
    p = subprocess.run([str(exe)], env=run_env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    mid = p.stdout.strip()
    m = api.find(world.owner.token, mid, group_id=world.group)
    assert m and m["content"] == "hello from an installed libbink"
    # it really used the installed copy
    ldd = shutil.which("ldd")
    if ldd:
        out = subprocess.run([ldd, str(exe)], env=run_env, capture_output=True, text=True).stdout
        assert str(prefix / "lib") in out, out


def test_man_pages_are_roff(prefix):
    for rel, name in [("share/man/man1/bink.1", "BINK"), ("share/man/man8/binkd.8", "BINKD")]:
        text = (prefix / rel).read_text()
        assert text.startswith(".TH " + name) or ("\n.TH " + name) in text
        assert ".SH NAME" in text and ".SH SYNOPSIS" in text
