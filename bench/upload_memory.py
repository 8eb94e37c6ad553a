#!/usr/bin/env python3
"""Resident memory of the service before, during and after a 20 MiB annex upload.

Starts the service (the binary at $WG_BIN, by default target/release/welfare-grants; build it
with `cargo build --release`) on a fresh SQLite file with the demo data, uploads one file of
20 MiB less 1 KiB (under the default limit of a partnership agreement) in 256 KiB pieces, and
reads the process's VmRSS and VmHWM (its peak) from /proc before, during (after each piece)
and after the upload. Prints the figures and the growth of the peak as a share of the file.

    python3 bench/upload_memory.py
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("WG_BIN", os.path.join(ROOT, "target", "release", "welfare-grants"))
SIZE = 20 * 1024 * 1024 - 1024
PIECE = 256 * 1024


def status(pid):
    """VmRSS and VmHWM of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def call(base, method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


def main():
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} is missing: cargo build --release (or set WG_BIN)")
    tmp = tempfile.mkdtemp(prefix="wg-upload-memory-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ,
               APP_SERVER__HOST="127.0.0.1", APP_SERVER__PORT=str(port), APP_SERVER__WORKERS="2",
               APP_DATABASE__URL=f"sqlite://{tmp}/wg.db?mode=rwc", APP_STORAGE__PATH=f"{tmp}/files",
               APP_DEMO__ENABLED="true", APP_LOG__LEVEL="warn", APP_RATE_LIMIT__ENABLED="false",
               APP_WEBHOOKS__WORKER_ENABLED="false")
    service = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/status", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the service did not start")
                time.sleep(0.2)
        token = call(base, "POST", "/api/v1/auth/login", body={
            "username": "richiedente1@demo.welfare-grants.test", "password": "demo-applicant-password"})["access_token"]
        partnerships = call(base, "GET", "/api/v1/partnerships", token)["items"]
        pid = partnerships[0]["id"]
        app_id = call(base, "POST", "/api/v1/applications", token, {"partnership_id": pid})["id"]
        # Warm up: one small upload, so that what is measured is the big file, not first use.
        upload(port, token, app_id, b"%PDF-1.4\n% warm-up\n%%EOF\n", lambda: None)
        time.sleep(1)
        before = status(service.pid)
        during = []
        answer = upload(port, token, app_id, None, lambda: during.append(status(service.pid)))
        right_after = status(service.pid)
        time.sleep(2)
        after = status(service.pid)
    finally:
        service.terminate()
        service.wait(timeout=10)
    peak_during = max(d["VmRSS"] for d in during)
    print(f"file: {SIZE} bytes ({SIZE / 1048576:.2f} MiB) in {len(during)} pieces of {PIECE // 1024} KiB; answer: {answer}")
    print(f"resident before:         {before['VmRSS'] / 1024:7.1f} MiB (peak so far {before['VmHWM'] / 1024:.1f} MiB)")
    print(f"resident during (max):   {peak_during / 1024:7.1f} MiB")
    print(f"resident right after:    {right_after['VmRSS'] / 1024:7.1f} MiB")
    print(f"resident 2 s after:      {after['VmRSS'] / 1024:7.1f} MiB (peak of the process {after['VmHWM'] / 1024:.1f} MiB)")
    grown = max(peak_during, after["VmHWM"]) - before["VmHWM"]
    print(f"growth of the peak: {grown / 1024:.1f} MiB = {grown * 1024 / SIZE:.3f} of the file")


def upload(port, token, app_id, content, sample):
    """One multipart upload over a raw socket, sampling after each piece sent; the answer."""
    boundary = "upload-memory-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
            f"Content-Type: application/json\r\n\r\n{{\"kind\": \"partnership_agreement\"}}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"accordo.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(content) if content is not None else SIZE
    request = (f"POST /api/v1/applications/{app_id}/documents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {len(head) + size + len(tail)}\r\nConnection: close\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(request + head)
    if content is not None:
        sock.sendall(content)
    else:
        first = b"%PDF-1.4\n% twenty mebibytes\n"
        sent = 0
        while sent < SIZE:
            n = min(PIECE, SIZE - sent)
            piece = (first + b" " * (n - len(first))) if sent == 0 else b" " * n
            sock.sendall(piece)
            sent += n
            time.sleep(0.01)
            sample()
    sock.sendall(tail)
    reply = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    sock.close()
    return reply.split(b"\r\n", 1)[0].decode()


if __name__ == "__main__":
    main()
