"""The client against a broken or hostile server (a scripted socket server,
no casmemd): an endless answer body or watch line raises instead of
growing memory, and a next-page link that does not move forward raises
instead of listing forever."""

from __future__ import annotations

import os
import socket
import sys
import threading
import unittest
from typing import Callable, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import casmem  # noqa: E402

MIB = b"x" * (1 << 20)


class FakeServer:
    """Listens on 127.0.0.1; hands each accepted connection (up to
    `connections`) to script(sock, n)."""

    def __init__(self, connections: int, script: Callable[[socket.socket, int], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(20)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.requests: List[bytes] = []
        self._script = script
        self._thread = threading.Thread(target=self._run, args=(connections,), daemon=True)
        self._thread.start()

    def _run(self, connections: int) -> None:
        for n in range(connections):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(20)
            try:
                self._script(conn, n)
            except OSError:
                pass  # the client went away
            finally:
                conn.close()

    def read_request(self, conn: socket.socket) -> bytes:
        got = b""
        while b"\r\n\r\n" not in got:
            b = conn.recv(4096)
            if not b:
                return b""
            got += b
        self.requests.append(got)
        return got

    def close(self) -> None:
        self.sock.close()
        self._thread.join(30)


class HostileServerTest(unittest.TestCase):

    def test_endless_answer_body_raises(self) -> None:
        def script(conn: socket.socket, _n: int) -> None:
            server.read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            first = b'{"key":"k","value":"'
            conn.sendall(b"%x\r\n%s\r\n" % (len(first), first))
            for _ in range(80):  # 80 MiB, or less when the client stops reading
                conn.sendall(b"%x\r\n%s\r\n" % (len(MIB), MIB))
            last = b'","version":1,"revision":1}'
            conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))

        server = FakeServer(1, script)
        self.addCleanup(server.close)
        c = casmem.Client(server.url, max_retries=0)
        self.addCleanup(c.close)
        with self.assertRaises(casmem.ConnectionFailed) as cm:
            c.get("k")
        self.assertIn("over 64 MiB", str(cm.exception))

    def test_endless_watch_line_raises(self) -> None:
        def script(conn: socket.socket, _n: int) -> None:
            server.read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Connection: close\r\n\r\ndata: ")
            for _ in range(20):  # no newline ever
                conn.sendall(MIB)
            while conn.recv(4096):  # until the client closes
                pass

        server = FakeServer(1, script)
        self.addCleanup(server.close)
        c = casmem.Client(server.url)
        self.addCleanup(c.close)
        with self.assertRaises(casmem.ConnectionFailed) as cm:
            for _ in c.watch(since=0, reconnect_for=0):
                pass
        self.assertIn("over 16 MiB", str(cm.exception))

    def test_next_link_to_the_same_page_raises(self) -> None:
        body = b'[{"key":"a","value":1,"version":1,"revision":1,"updated_at":"x"}]'

        def script(conn: socket.socket, _n: int) -> None:
            for _ in range(5):
                if not server.read_request(conn):
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Casmem-Revision: 1\r\n"
                             b"Link: </workspaces/default/memory?after=a&limit=1>; rel=\"next\"\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

        server = FakeServer(1, script)
        self.addCleanup(server.close)
        c = casmem.Client(server.url, max_retries=0, timeout=5)
        self.addCleanup(c.close)
        got = []
        with self.assertRaises(casmem.CasmemError) as cm:
            for e in c.list(page_size=1):
                got.append(e.key)
        self.assertIn("does not move forward", str(cm.exception))
        self.assertIsInstance(cm.exception, casmem.BadAnswer)
        self.assertEqual(got, ["a"])  # the repeated page is not yielded
        self.assertEqual(len(server.requests), 2)


if __name__ == "__main__":
    unittest.main()
