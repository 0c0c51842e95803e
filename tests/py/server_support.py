# SPDX-License-Identifier: Apache-2.0
"""A `varpulis server` child process and a raw-socket request, shared by the server and abuse tests."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time

from varpulis import WorkerClient


class ServerProcess:
    """A `varpulis server --port 0` child process; reads the bound port from the banner."""

    def __init__(self, binary, *args, key="test"):
        self.args = [binary, "server", "--port", "0", *args] + (["--api-key", key] if key else [])
        self.key = key
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.banner = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line)
            match = re.search(r"API:\s+(https?)://127\.0\.0\.1:(\d+)/", line)
            if match:
                self.scheme, self.port = match.group(1), int(match.group(2))
                self.url = f"{self.scheme}://127.0.0.1:{self.port}"
            if line.startswith("Pipelines:"):  # the banner's last line
                return
        self.stop()
        raise RuntimeError(f"server did not start: {self.banner} {self.stderr}")

    def client(self, key="__same__"):
        return WorkerClient(self.url, self.key if key == "__same__" else key)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()
        return self.proc.returncode


def raw_request(port, data: bytes, timeout=5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"Content-Length" in b"".join(chunks):
                    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
                    if len(body) >= length:
                        break
        except socket.timeout:
            pass
        return b"".join(chunks)
