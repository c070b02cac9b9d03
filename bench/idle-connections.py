#!/usr/bin/env python3
"""Holds N idle SMTP connections to a running Mailroom on loopback and reports its resident memory.

usage: idle-connections.py PID N [ADDRESS PORT]   (bench/idle-connections.sh runs it for you)
Every connection is made from a 127.0.1.x address (so the ephemeral ports suffice), reads its
greeting, and is closed at the end; one more session checks that new clients are still served.
Loopback only; bounded in count (N) and time (240 s)."""
import socket, sys, time

pid, n = int(sys.argv[1]), int(sys.argv[2])
address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.2"
port = int(sys.argv[4]) if len(sys.argv) > 4 else 2600
assert address.startswith("127."), "loopback only"

def rss(p):
    for line in open(f"/proc/{p}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

socks = []
print("rss before", rss(pid), "MiB", flush=True)
deadline = time.time() + 240
for i in range(n):
    if time.time() > deadline:
        break
    s = socket.socket()
    s.settimeout(10)
    s.bind((f"127.0.1.{1 + i % 200}", 0))
    s.connect((address, port))
    socks.append(s)
greeted = 0
for s in socks:
    try:
        if s.recv(100).startswith(b"220"):
            greeted += 1
    except OSError:
        pass
print("connections", len(socks), "greeted", greeted, flush=True)
print("rss with idle connections", rss(pid), "MiB", flush=True)
t = socket.create_connection((address, port), timeout=10)
greeting = t.recv(100)
t.sendall(b"EHLO bench.example\r\nQUIT\r\n")
reply = b""
while b"221" not in reply and time.time() < deadline + 30:
    chunk = t.recv(4096)
    if not chunk:
        break
    reply += chunk
print("new session:", greeting.split(b"\r\n")[0].decode(), "/", reply.split(b"\r\n")[0].decode(), flush=True)
for s in socks:
    s.close()
