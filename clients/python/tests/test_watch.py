"""Client.watch against a real casmemd: changes in order with transactions
whole, resuming by itself after the server restarts (SIGTERM and kill -9)
and after `lagged`, Compacted for a history no longer kept."""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest
from typing import List

from support import Casmemd, casmem, free_port, metric, take


class WatchTestBase(unittest.TestCase):

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="casmem-py-watch-")
        self.data = os.path.join(self.tmp, "data")
        self.servers: List[Casmemd] = []
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def tearDown(self) -> None:
        for s in self.servers:
            s.kill()

    def start(self, args=(), port: int = 0) -> Casmemd:
        s = Casmemd(self.data, args, port).start()
        self.servers.append(s)
        return s

    def client(self, url: str, **kw) -> casmem.Client:
        c = casmem.Client(url, timeout=60, **kw)
        self.addCleanup(c.close)
        return c


class WatchTest(WatchTestBase):

    def test_changes_arrive_in_order_with_transactions_whole(self) -> None:
        s = self.start()
        c = self.client(s.url, workspace="team", writer="dev")
        c.set("task:0", "before the watch")
        w = c.watch("task:")  # from now
        self.addCleanup(w.close)
        c.set("task:1", "todo")
        c.set("other", 1)  # not under the prefix
        c.txn([casmem.Op.set("task:2", "todo"), casmem.Op.delete("task:1")])
        c.merge("task:2", "doing")
        got = take(w, 4)
        self.assertEqual([(x.event, x.key) for x in got],
                         [("put", "task:1"), ("put", "task:2"), ("delete", "task:1"),
                          ("put", "task:2")])
        self.assertEqual(got[0].value, "todo")
        self.assertEqual(got[0].writer, "dev")
        self.assertEqual(got[1].revision, got[2].revision)  # one transaction
        self.assertLess(got[0].revision, got[1].revision)
        self.assertEqual((got[2].version, got[3].version, got[3].value), (1, 2, "doing"))

    def test_since_replays_history(self) -> None:
        s = self.start()
        c = self.client(s.url)
        r1 = c.set("a", 1).revision
        c.set("b", 2)
        w = c.watch(since=r1)
        self.addCleanup(w.close)
        self.assertEqual(take(w, 1)[0].key, "b")
        with self.assertRaises(casmem.BadRequest):  # a revision this server never had
            take(c.watch(since=r1 + 1000), 1)

    def test_resumes_after_the_server_restarts(self) -> None:
        port = free_port()
        s = self.start(port=port)
        c = self.client(s.url, workspace="w")
        start = c.list().revision
        w = c.watch(since=start)
        self.addCleanup(w.close)
        c.set("k1", 1)
        c.txn([casmem.Op.set("k2", 2), casmem.Op.set("k3", 3)])
        self.assertEqual([x.key for x in take(w, 3)], ["k1", "k2", "k3"])

        self.assertEqual(s.terminate(), 0)  # clean stop: the stream ends
        s = self.start(port=port)
        c.set("k4", 4)
        self.assertEqual(take(w, 1)[0].key, "k4")  # not k1..k3 again

        c.set("k5", 5)
        s.kill()  # kill -9, whether or not k5 was read already
        s = self.start(port=port)
        c.set("k6", 6)
        got = take(w, 2)
        self.assertEqual([x.key for x in got], ["k5", "k6"])
        self.assertEqual(c.changes(since=got[1].revision).changes, [])

    def test_resumes_after_lagged(self) -> None:
        s = self.start(["--watch-buffer", "4K", "--fsync", "never"])
        c = self.client(s.url, workspace="lag")
        w = c.watch(since=c.list().revision)
        self.addCleanup(w.close)
        first = c.set("v:00000", 0)
        self.assertEqual(take(w, 1)[0].revision, first.revision)  # the stream is open
        # Not reading: once the socket buffers are full the server cuts the
        # stream with `lagged`. Write until it has.
        big = "x" * 50_000
        written = [first.revision]
        i = 0
        while metric(s.url, "casmem_watch_lagged_total") == 0:
            for _ in range(20):
                i += 1
                written.append(c.set(f"v:{i:05d}", big).revision)
            self.assertLess(i, 20_000, "never lagged")
        for _ in range(5):
            i += 1
            written.append(c.set(f"v:{i:05d}", big).revision)
        got = [x.revision for x in take(w, len(written) - 1)]
        self.assertEqual(got, written[1:])  # every change once, in order

    def test_gives_up_when_told(self) -> None:
        c = self.client(f"http://127.0.0.1:{free_port()}")
        with self.assertRaises(casmem.ConnectionFailed):
            take(c.watch(since=0, reconnect_for=1), 1)


class FakeSseServer:
    """An HTTP server that answers the n-th watch request with the n-th
    scripted stream (then closes), recording each request's path: for what a
    real casmemd does only by chance, such as a cut inside a transaction."""

    def __init__(self, streams: List[str]) -> None:
        import http.server
        import threading
        self.paths: List[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.paths.append(self.path)
                i = len(fake.paths) - 1
                body = streams[i] if i < len(streams) else ""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(("retry: 1000\n\n" + body).encode())
                self.wfile.flush()
                self.close_connection = True
                if i >= len(streams):
                    threading.Event().wait(30)  # nothing more to say

            def log_message(self, *a) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def put(key: str, rev: int, last: bool) -> str:
    return ((f"id: {rev}\n" if last else "") + "event: put\n" +
            f'data: {{"key":"{key}","value":1,"version":1,"revision":{rev},"updated_at":"t"}}\n\n')


class WatchProtocolTest(unittest.TestCase):

    def test_cut_inside_a_transaction_yields_it_once_whole(self) -> None:
        fake = FakeSseServer([
            put("a", 5, True) + ": heartbeat\n\n" + put("b", 6, False),  # cut after b
            put("b", 6, False) + put("c", 6, True) + "event: lagged\ndata: {}\n\n",
            put("d", 7, True),
        ])
        self.addCleanup(fake.close)
        c = casmem.Client(fake.url, workspace="w", timeout=60)
        w = c.watch("p", since=4)
        self.addCleanup(w.close)
        got = take(w, 4)
        self.assertEqual([(x.key, x.revision) for x in got],
                         [("a", 5), ("b", 6), ("c", 6), ("d", 7)])
        self.assertEqual(fake.paths, ["/workspaces/w/watch?prefix=p&since=4",
                                      "/workspaces/w/watch?prefix=p&since=5",
                                      "/workspaces/w/watch?prefix=p&since=6"])


class CompactedTest(WatchTestBase):

    def test_too_old_since_raises_compacted(self) -> None:
        # Small segments and no history kept: the snapshot at shutdown drops
        # the segments it covers.
        args = ["--wal-segment-bytes", "64K", "--watch-history", "0", "--watch-memory", "0",
                "--fsync", "never"]
        s = self.start(args)
        c = self.client(s.url, workspace="w")
        big = "y" * 2000
        for i in range(100):
            c.set(f"k{i}", big)
        self.assertEqual(s.terminate(), 0)
        s = self.start(args)
        c = self.client(s.url, workspace="w")
        with self.assertRaises(casmem.Compacted) as cm:
            take(c.watch(since=1), 1)
        compact = cm.exception.compact_revision
        self.assertGreater(compact, 1)
        with self.assertRaises(casmem.Compacted) as cm:
            c.changes(since=1)
        self.assertEqual(cm.exception.status, 410)
        self.assertEqual(cm.exception.compact_revision, compact)
        # What the error says to do: list, then watch from the listing.
        listing = c.list()
        self.assertEqual(len(list(listing)), 100)
        w = c.watch(since=listing.revision)
        self.addCleanup(w.close)
        c.set("after", 1)
        self.assertEqual(take(w, 1)[0].key, "after")


if __name__ == "__main__":
    unittest.main()
