"""The client's calls against a real casmemd: reads, writes, guards and their
typed errors, patches, transactions, listings over pages, the JSON change
feed, blocking reads, and idempotent retries."""

from __future__ import annotations

import threading
import time
import unittest

from support import DroppingProxy, ServerTestCase, casmem


class ReadWriteTest(ServerTestCase):

    def test_set_then_get_returns_the_entry(self) -> None:
        c = self.client(workspace="rw", writer="dev-lead")
        w = c.set("ledger", {"tasks": ["a"], "n": 12345678901234567890})
        self.assertEqual(w.key, "ledger")
        self.assertEqual(w.version, 1)
        self.assertGreater(w.revision, 0)
        self.assertFalse(w.replayed)
        e = c.get("ledger")
        self.assertEqual(e.value, {"tasks": ["a"], "n": 12345678901234567890})
        self.assertEqual((e.version, e.revision, e.writer), (1, w.revision, "dev-lead"))
        self.assertTrue(e.updated_at.endswith("Z"))
        self.assertIsNone(e.expires_at)
        self.assertEqual(c.set("ledger", None).version, 2)  # null is a value
        self.assertIsNone(c.get("ledger").value)

    def test_ttl_sets_expires_at(self) -> None:
        c = self.client(workspace="rw")
        c.set("lease", "me", ttl=600)
        self.assertIsNotNone(c.get("lease").expires_at)
        c.set("lease", "me")  # a set without ttl clears it
        self.assertIsNone(c.get("lease").expires_at)

    def test_keys_with_url_characters_round_trip(self) -> None:
        c = self.client(workspace="rw")
        for key in ("a/b", "c++", "with space", "research-backlog:pmm", "ünï?#%&="):
            c.set(key, key)
            self.assertEqual(c.get(key).value, key)
            self.assertEqual([e.key for e in c.list(key)], [key])

    def test_workspaces_are_separate(self) -> None:
        a = self.client(workspace="ws-a")
        b = self.client(workspace="ws-b")
        a.set("k", "a")
        with self.assertRaises(casmem.NotFound):
            b.get("k")

    def test_missing_key_is_not_found(self) -> None:
        c = self.client(workspace="rw")
        with self.assertRaises(casmem.NotFound) as cm:
            c.get("never-written")
        self.assertEqual(cm.exception.status, 404)
        self.assertEqual(cm.exception.body, {"error": "key not found"})
        self.assertIsInstance(cm.exception, casmem.CasmemError)

    def test_stale_guard_is_a_conflict_with_the_current_state(self) -> None:
        c = self.client(workspace="cas", writer="agent-a")
        self.assertEqual(c.set("backlog", {"tasks": []}, if_version=0).version, 1)
        c.set("backlog", {"tasks": ["a"]}, if_version=1)
        with self.assertRaises(casmem.Conflict) as cm:
            self.client(workspace="cas", writer="agent-b").set(
                "backlog", {"tasks": ["b"]}, if_version=1)
        e = cm.exception
        self.assertEqual(e.status, 409)
        self.assertEqual((e.expected_version, e.current_version), (1, 2))
        self.assertEqual(e.current_value, {"tasks": ["a"]})
        self.assertEqual(e.current_writer, "agent-a")
        # create-only of an existing key
        with self.assertRaises(casmem.Conflict) as cm:
            c.set("backlog", {}, if_version=0)
        self.assertEqual(cm.exception.current_version, 2)

    def test_guard_on_an_absent_key_has_no_current_version(self) -> None:
        c = self.client(workspace="cas")
        with self.assertRaises(casmem.Conflict) as cm:
            c.set("absent", 1, if_version=3)
        self.assertIsNone(cm.exception.current_version)
        self.assertIsNone(cm.exception.current_value)

    def test_bad_request(self) -> None:
        c = self.client(workspace="rw")
        with self.assertRaises(casmem.BadRequest) as cm:
            c.set("k", 1, ttl=-1)
        self.assertEqual(cm.exception.status, 400)
        self.assertIn("ttl_seconds", cm.exception.message)

    def test_delete(self) -> None:
        c = self.client(workspace="del")
        c.set("k", 1)
        c.set("k", 2)
        with self.assertRaises(casmem.Conflict) as cm:
            c.delete("k", if_version=1)
        self.assertEqual(cm.exception.current_version, 2)
        d = c.delete("k", if_version=2)
        self.assertTrue(d.existed)
        self.assertIsNotNone(d.revision)
        with self.assertRaises(casmem.NotFound):
            c.get("k")
        again = c.delete("k")
        self.assertFalse(again.existed)
        # re-created after the tombstone: versions go on, never reused
        self.assertEqual(c.set("k", 3, if_version=0).version, 3)


class PatchTxnTest(ServerTestCase):

    def test_patch_applies_on_the_server(self) -> None:
        c = self.client(workspace="p")
        c.set("backlog", {"tasks": [], "done": 0})
        w = c.patch("backlog", [{"op": "add", "path": "/tasks/-", "value": "x"},
                                {"op": "increment", "path": "/done", "value": 2}])
        self.assertEqual(w.value, {"tasks": ["x"], "done": 2})
        self.assertEqual(w.version, 2)
        self.assertEqual(c.get("backlog").value, w.value)
        w = c.patch("backlog", [{"op": "remove", "path": "/tasks/0"}], if_version=2, ttl=300)
        self.assertEqual(w.version, 3)
        self.assertIsNotNone(c.get("backlog").expires_at)

    def test_failed_patch_and_guard(self) -> None:
        c = self.client(workspace="p")
        c.set("doc", {"owner": "qa"})
        with self.assertRaises(casmem.PatchFailed) as cm:
            c.patch("doc", [{"op": "add", "path": "/x", "value": 1},
                            {"op": "test", "path": "/owner", "value": "dev"}])
        self.assertEqual(cm.exception.op_index, 1)
        self.assertEqual(cm.exception.current_value, {"owner": "qa"})
        with self.assertRaises(casmem.Conflict) as cm:
            c.patch("doc", [{"op": "add", "path": "/x", "value": 1}], if_version=7)
        self.assertNotIsInstance(cm.exception, casmem.PatchFailed)
        self.assertEqual(cm.exception.current_version, 1)

    def test_merge(self) -> None:
        c = self.client(workspace="p")
        w = c.merge("cfg", {"a": 1, "b": {"c": 2}})  # an absent key is null
        self.assertEqual((w.version, w.value), (1, {"a": 1, "b": {"c": 2}}))
        w = c.merge("cfg", {"a": None, "b": {"d": 3}}, if_version=1)
        self.assertEqual(w.value, {"b": {"c": 2, "d": 3}})
        with self.assertRaises(casmem.Conflict):
            c.merge("cfg", {"x": 1}, if_version=1)

    def test_txn_all_or_nothing(self) -> None:
        c = self.client(workspace="t", writer="planner")
        c.set("queue", [1, 2, 3])
        c.set("stale", "x")
        Op = casmem.Op
        r = c.txn([Op.check("queue", 1),
                   Op.patch("queue", [{"op": "remove", "path": "/0"}]),
                   Op.set("claim:42", {"by": "dev"}, if_version=0, ttl=600),
                   Op.merge("meta", {"n": 1}),
                   Op.delete("stale"),
                   Op.delete("never")])
        self.assertEqual([(x.key, x.version) for x in r.results],
                         [("queue", 1), ("queue", 2), ("claim:42", 1), ("meta", 1),
                          ("stale", 1), ("never", None)])
        self.assertEqual(c.get("queue").value, [2, 3])
        self.assertEqual(c.get("claim:42").revision, r.revision)
        with self.assertRaises(casmem.TxnFailed) as cm:
            c.txn([Op.set("other", 1), Op.set("claim:42", {"by": "qa"}, if_version=0)])
        e = cm.exception
        self.assertEqual((e.op_index, e.reason), (1, "if_match_version mismatch"))
        self.assertEqual((e.expected_version, e.current_version), (0, 1))
        self.assertEqual(e.current_value, {"by": "dev"})
        self.assertEqual(e.current_writer, "planner")
        with self.assertRaises(casmem.NotFound):
            c.get("other")  # nothing of the failed transaction was written
        with self.assertRaises(casmem.TxnFailed) as cm:
            c.txn([Op.patch("queue", [{"op": "test", "path": "/0", "value": 9}])])
        self.assertEqual(cm.exception.patch_op_index, 0)


class ListTest(ServerTestCase):

    def test_list_follows_pages(self) -> None:
        c = self.client(workspace="l")
        keys = [f"task:{i:03d}" for i in range(23)] + ["task:a b", "task:c+d", "task:x/y"]
        for k in keys:
            c.set(k, k)
        c.set("other", 0)
        c.set("task", 0)  # shorter than the prefix
        c.delete("task:005")
        live = sorted(k for k in keys if k != "task:005")
        listing = c.list("task:", page_size=4)
        got = list(listing)
        self.assertEqual([e.key for e in got], sorted(live, key=lambda k: k.encode()))
        self.assertEqual([e.value for e in got], [e.key for e in got])
        self.assertGreaterEqual(listing.revision, max(e.revision for e in got))
        self.assertEqual(len(list(c.list(page_size=1))), len(live) + 2)
        self.assertEqual([e.key for e in c.list("task:02", page_size=10000)],
                         ["task:020", "task:021", "task:022"])
        self.assertEqual([e.key for e in c.list("task:", after="task:020")][:2],
                         ["task:021", "task:022"])
        self.assertEqual(list(c.list("nothing-here")), [])


class ChangesTest(ServerTestCase):

    def test_changes_pages_and_long_poll(self) -> None:
        c = self.client(workspace="ch", writer="w")
        start = c.list().revision
        c.set("job:1", "todo")
        c.set("zzz", 1)
        c.delete("job:1")
        page = c.changes(since=start, prefix="job:")
        self.assertEqual([(x.event, x.key) for x in page.changes],
                         [("put", "job:1"), ("delete", "job:1")])
        self.assertEqual(page.changes[0].value, "todo")
        self.assertEqual(page.changes[0].writer, "w")
        self.assertEqual(page.changes[1].version, 1)
        first = c.changes(since=start, limit=1)
        self.assertEqual(len(first.changes), 1)
        self.assertEqual(first.revision, first.changes[0].revision)
        # nothing new: a wait returns when a write comes
        t = threading.Timer(0.5, lambda: self.client(workspace="ch").set("job:2", 1))
        t.start()
        self.addCleanup(t.cancel)
        got = c.changes(since=page.revision, prefix="job:", wait=60)
        self.assertEqual([x.key for x in got.changes], ["job:2"])
        empty = c.changes(since=got.revision, wait=0.2)
        self.assertEqual(empty.changes, [])

    def test_blocking_get(self) -> None:
        c = self.client(workspace="ch")
        c.set("queue", [1])
        t = threading.Timer(0.5, lambda: self.client(workspace="ch").set("queue", [1, 2]))
        t.start()
        self.addCleanup(t.cancel)
        e = c.get("queue", wait_version=1, wait=60)
        self.assertEqual((e.version, e.value), (2, [1, 2]))
        e = c.get("queue", wait_version=2, wait=0.1)  # timed out: the current state
        self.assertEqual(e.version, 2)


class IdempotencyTest(ServerTestCase):

    def test_same_key_is_answered_once(self) -> None:
        c = self.client(workspace="idem")
        inc = [{"op": "increment", "path": "", "value": 1}]
        a = c.patch("counter", inc, idempotency_key="job-17")
        b = c.patch("counter", inc, idempotency_key="job-17")
        self.assertFalse(a.replayed)
        self.assertTrue(b.replayed)
        self.assertEqual((a.version, a.value), (b.version, b.value))
        self.assertEqual(c.get("counter").value, 1)
        with self.assertRaises(casmem.IdempotencyKeyReused) as cm:
            c.patch("counter", [{"op": "increment", "path": "", "value": 5}],
                    idempotency_key="job-17")
        self.assertEqual(cm.exception.status, 422)

    def test_retry_after_a_lost_answer_does_not_apply_twice(self) -> None:
        proxy = DroppingProxy(self.server.port)
        self.addCleanup(proxy.close)
        c = casmem.Client(proxy.url, workspace="idem", timeout=60)
        self.addCleanup(c.close)
        c.set("n", 0)
        inc = [{"op": "increment", "path": "", "value": 1}]
        for call in (lambda: c.patch("n", inc),
                     lambda: c.txn([casmem.Op.patch("n", inc)]),
                     lambda: c.set("m", "once", if_version=0)):
            proxy.drop = 1  # the server acts, its answer is lost
            r = call()
            self.assertEqual(proxy.dropped, 1)
            proxy.dropped = 0
            self.assertTrue(r.replayed)  # the retry carried the same key
        self.assertEqual(c.get("n").value, 2)
        self.assertEqual(c.get("m").version, 1)

    def test_without_idempotency_a_lost_answer_is_not_retried(self) -> None:
        proxy = DroppingProxy(self.server.port)
        self.addCleanup(proxy.close)
        c = casmem.Client(proxy.url, workspace="idem2", timeout=60, idempotency=False)
        self.addCleanup(c.close)
        proxy.drop = 1
        with self.assertRaises(casmem.ConnectionFailed) as cm:
            c.patch("n", [{"op": "increment", "path": "", "value": 1}])
        self.assertIsNone(cm.exception.status)
        self.assertEqual(c.get("n").value, 1)  # applied once, never twice
        proxy.drop = 1  # reads are retried anyway
        self.assertEqual(c.get("n").value, 1)

    def test_unreachable_server(self) -> None:
        from support import free_port
        c = casmem.Client(f"http://127.0.0.1:{free_port()}", timeout=5, max_retries=1)
        t0 = time.monotonic()
        with self.assertRaises(casmem.ConnectionFailed):
            c.get("k")
        self.assertLess(time.monotonic() - t0, 60)


class ConnectionTest(ServerTestCase):

    def test_one_connection_carries_many_requests(self) -> None:
        proxy = DroppingProxy(self.server.port)
        self.addCleanup(proxy.close)
        c = casmem.Client(proxy.url, workspace="conn", timeout=60)
        self.addCleanup(c.close)
        for i in range(10):
            c.set(f"k{i}", i)
            c.get(f"k{i}")
        c.update("k0", lambda v: v + 1)
        self.assertEqual(len(list(c.list(page_size=3))), 10)
        self.assertEqual(proxy.connections, 1)

    def test_threads_share_a_client(self) -> None:
        proxy = DroppingProxy(self.server.port)
        self.addCleanup(proxy.close)
        c = casmem.Client(proxy.url, workspace="conn2", timeout=60, pool_size=8)
        self.addCleanup(c.close)
        errors: list = []

        def work(t: int) -> None:
            try:
                for i in range(20):
                    c.set(f"t{t}:{i}", i)
                    if c.get(f"t{t}:{i}").value != i:
                        errors.append((t, i))
            except BaseException as e:
                errors.append(e)

        ts = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(list(c.list())), 120)
        self.assertLessEqual(proxy.connections, 6)  # one per thread at most, reused


class ConfigTest(unittest.TestCase):

    def test_environment_defaults(self) -> None:
        import os
        from unittest import mock
        env = {"CASMEM_URL": "http://127.0.0.1:9", "CASMEM_TOKEN": "cm_x",
               "CASMEM_WORKSPACE": "team", "CASMEM_WRITER": "pm"}
        with mock.patch.dict(os.environ, env):
            c = casmem.Client()
            self.assertEqual((c.url, c.token, c.workspace, c.writer),
                             ("http://127.0.0.1:9", "cm_x", "team", "pm"))
            c = casmem.Client("http://127.0.0.1:10", token="t", workspace="w", writer="me")
            self.assertEqual((c.url, c.token, c.workspace, c.writer),
                             ("http://127.0.0.1:10", "t", "w", "me"))
        with self.assertRaises(ValueError):
            casmem.Client("ftp://x")


if __name__ == "__main__":
    unittest.main()
