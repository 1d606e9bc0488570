"""libbink's typed calls (getme, getgroup, send/edit with keyboards, uploads
from memory, getfile and downloads, batch delete, commands, mute, webhook
info, getupdates and the poll loop, bink_call) against a real binkd, through
tests/sdk/sdk_smoke.c."""
import os
import subprocess

import pytest

from sdk_support import BUILD_DIR, clean_env


def test_typed_calls(api, admin_world):
    w = admin_world
    exe = os.path.join(BUILD_DIR, "lib", "sdk_smoke")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} not built (set $BINK_BUILD_DIR)")
    member = api.user()
    api.addmember(w.owner.token, w.group, member.id)
    env = clean_env(api.base, w.bot.token, GROUP=w.group, MEMBER=member.id)
    p = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().endswith("done"), p.stdout
    assert "Sanitizer" not in p.stderr, p.stderr
