#!/usr/bin/env python3
"""The TCP port a process listens on, read from /proc: its socket inodes
matched against the LISTEN rows of /proc/PID/net/tcp. The benchmarks start
binkd on port 0 and at a log level that does not print the address.

  python3 bench/listen_port.py PID   # prints the port, exit 1 if none yet
  from listen_port import listen_port
"""
import os
import sys


def listen_port(pid):
    """The port pid listens on (IPv4), or None."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for row in f:
            col = row.split()
            if col[3] == "0A" and col[9] in inodes:  # 0A: LISTEN
                return int(col[1].split(":")[1], 16)
    return None


if __name__ == "__main__":
    try:
        port = listen_port(sys.argv[1])
    except OSError:
        port = None
    if port is None:
        sys.exit(1)
    print(port)
