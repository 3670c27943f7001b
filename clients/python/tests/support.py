"""Test support for the Python client's tests: a real casmemd child process
(path in $CASMEMD, else build/bin/casmemd of this checkout), tokens made
with `casmemd token create`, a free port, the server's request counters,
and a TCP proxy that can drop an answer on the floor."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from typing import List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # clients/python: import casmem

import casmem  # noqa: E402

READY = re.compile(r"casmemd listening on (https?://\S+)")


def casmemd_path() -> str:
    """The casmemd binary under test; the tests are skipped without one."""
    p = os.environ.get("CASMEMD")
    if p:
        if not os.access(p, os.X_OK):
            raise RuntimeError(f"CASMEMD={p} is not an executable")
        return p
    p = os.path.join(HERE, "..", "..", "..", "build", "bin", "casmemd")
    if os.access(p, os.X_OK):
        return os.path.abspath(p)
    raise unittest.SkipTest("no casmemd: set CASMEMD to the built binary")


def free_port() -> int:
    """A port that was free a moment ago (bound to port 0, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Casmemd:
    """A casmemd child on `data_dir`, listening on 127.0.0.1:`port` (0: any
    free port); `url` once started. stderr goes to data_dir/../casmemd.log."""

    def __init__(self, data_dir: str, args: Sequence[str] = (), port: int = 0) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.port = port
        self.url = ""
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = os.path.join(os.path.dirname(data_dir.rstrip("/")),
                                     os.path.basename(data_dir.rstrip("/")) + ".log")

    def start(self, timeout: float = 120) -> "Casmemd":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [casmemd_path(), "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
             *self.args], stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump(out=self.proc.stdout) -> None:  # keeps the pipe drained
            for raw in iter(out.readline, b""):
                lines.put(raw.decode("utf-8", "replace"))
            out.close()
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            while True:
                line = lines.get(timeout=timeout)
                if line is None:
                    raise RuntimeError(f"casmemd exited before listening: {self.log_tail()}")
                m = READY.search(line)
                if m:
                    self.url = m.group(1)
                    self.port = int(self.url.rsplit(":", 1)[1])
                    return self
        except queue.Empty:
            self.kill()
            raise RuntimeError(f"casmemd not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def terminate(self) -> int:
        """SIGTERM and wait: casmemd makes everything durable and exits 0."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def make_token(data_dir: str, name: str, role: str, workspace: Optional[str] = None) -> str:
    """A token made offline (`casmemd token create`); returns its secret."""
    cmd = [casmemd_path(), "token", "create", "--data-dir", data_dir, "--name", name,
           "--role", role]
    if workspace is not None:
        cmd += ["--workspace", workspace]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=120)
    return out.stdout.decode().splitlines()[0].strip()


def request_count(url: str, route: str, token: Optional[str] = None,
                  status: Optional[str] = None) -> int:
    """casmem_http_requests_total of `route` (every status, or one), from /metrics."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    h = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        hdrs = {"Authorization": f"Bearer {token}"} if token else {}
        h.request("GET", "/metrics", headers=hdrs)
        text = h.getresponse().read().decode()
    finally:
        h.close()
    total = 0
    pat = re.compile(r'^casmem_http_requests_total\{([^}]*)\}\s+(\d+)', re.M)
    for labels, n in pat.findall(text):
        if f'route="{route}"' in labels and (status is None or f'status="{status}"' in labels):
            total += int(n)
    return total


def metric(url: str, name: str) -> int:
    """An unlabelled counter or gauge from /metrics (no token)."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    h = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        h.request("GET", "/metrics")
        text = h.getresponse().read().decode()
    finally:
        h.close()
    m = re.search(r"^" + re.escape(name) + r"\s+(\d+)", text, re.M)
    return int(m.group(1)) if m else 0


class DroppingProxy:
    """A TCP proxy to 127.0.0.1:`upstream_port`. While `drop` > 0, the next
    answer coming back from upstream is swallowed and both connections are
    closed instead (the request did reach the server): what a client sees
    when the network fails after the server acted. While `drop_requests` >
    0, the next bytes a client sends are swallowed the same way (the server
    never sees them). `sent` holds every byte forwarded to the server."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.drop = 0
        self.drop_requests = 0
        self.dropped = 0
        self.sent = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(16)
        self.port = self._srv.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._srv.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                c, _ = self._srv.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            u = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    if answers:
                        swallow = self.drop > 0
                        if swallow:
                            self.drop -= 1
                    else:
                        swallow = self.drop_requests > 0
                        if swallow:
                            self.drop_requests -= 1
                        else:
                            self.sent += data
                    if swallow:
                        self.dropped += 1
                if swallow:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class ServerTestCase(unittest.TestCase):
    """One casmemd per test class (started in setUpClass, killed at the end);
    `client(**kw)` makes a Client of it."""

    server_args: List[str] = []
    server: Casmemd
    tmp: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="casmem-py-")
        cls.server = Casmemd(os.path.join(cls.tmp, "data"), cls.server_args).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, **kw) -> casmem.Client:
        kw.setdefault("timeout", 60)
        c = casmem.Client(self.server.url, **kw)
        self.addCleanup(c.close)
        return c


def take(it, n: int, timeout: float = 120):
    """The next `n` items of iterator `it`, read in a helper thread so that a
    watch that never delivers fails the test instead of hanging it."""
    out: list = []
    err: list = []

    def run() -> None:
        try:
            for _ in range(n):
                out.append(next(it))
        except BaseException as e:  # re-raised in the test's thread
            err.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise AssertionError(f"only {len(out)} of {n} items after {timeout}s")
    if err:
        raise err[0]
    return out
