"""Client.update, the read / guarded write / retry-from-the-409 loop: many
threads on one key lose no update, a retry starts from the 409's value
without another read, create=True, and giving up after `retries`."""

from __future__ import annotations

import threading
from typing import Any, List

from support import DroppingProxy, ServerTestCase, casmem, request_count


class UpdateTest(ServerTestCase):

    def test_many_threads_lose_no_update(self) -> None:
        threads, per_thread = 8, 25
        c = self.client(workspace="hot", max_retries=5)  # one Client shared by every thread
        calls = [0]
        lock = threading.Lock()
        errors: List[BaseException] = []
        results: List[casmem.UpdateResult] = []

        def inc(v: Any) -> Any:
            with lock:
                calls[0] += 1
            v = v if v is not None else {"count": 0, "by": []}
            v["count"] += 1
            return v

        def agent() -> None:
            try:
                for _ in range(per_thread):
                    r = c.update("counter", inc, create=True, retries=1000)
                    with lock:
                        results.append(r)
            except BaseException as e:  # reported below
                errors.append(e)

        gets_before = request_count(self.server.url, "memory_item")
        ts = [threading.Thread(target=agent) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        total = threads * per_thread
        e = c.get("counter")
        self.assertEqual(e.value["count"], total)
        self.assertEqual(e.version, total)  # one write per increment, none lost
        self.assertEqual(len(results), total)
        conflicts = sum(r.conflicts for r in results)
        # fn ran once per write sent: the successes plus the 409s...
        self.assertEqual(calls[0], total + conflicts)
        # ...and every retry started from the 409's value: one GET per update.
        self.assertEqual(request_count(self.server.url, "memory_item") - gets_before, total + 1)
        self.assertEqual(sorted(r.version for r in results), list(range(1, total + 1)))

    def test_two_agents_one_backlog(self) -> None:
        """The seed's scenario (README): a PM and a Dev Lead append to one
        backlog at once; every task of both ends up in it, each agent's in
        its own order."""

        def agent(name: str, tasks: List[str]) -> None:
            mem = self.client(workspace="team", writer=name)
            for task in tasks:
                def append(backlog: Any) -> Any:
                    backlog = backlog or {"tasks": []}
                    backlog["tasks"].append({"task": task, "by": name})
                    return backlog
                mem.update("research-backlog:pmm", append, create=True)

        ts = [threading.Thread(target=agent, args=(n, [f"{n}-{i}" for i in range(50)]))
              for n in ("pm", "dev-lead")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        got = self.client(workspace="team").get("research-backlog:pmm")
        tasks = got.value["tasks"]
        self.assertEqual(len(tasks), 100)
        for n in ("pm", "dev-lead"):
            self.assertEqual([t["task"] for t in tasks if t["by"] == n],
                             [f"{n}-{i}" for i in range(50)])
        self.assertEqual(got.version, 100)
        self.assertIn(got.writer, ("pm", "dev-lead"))

    def test_retry_uses_the_conflicts_value_without_another_read(self) -> None:
        c = self.client(workspace="one", writer="a")
        other = self.client(workspace="one", writer="b")
        c.set("backlog", {"tasks": []})
        seen: List[Any] = []

        def append_a(v: Any) -> Any:
            seen.append(v)
            if len(seen) == 1:  # another agent writes between our read and our write
                other.set("backlog", {"tasks": ["b"]})
            return {"tasks": v["tasks"] + ["a"]}

        gets = request_count(self.server.url, "memory_item", status="200")
        r = c.update("backlog", append_a)
        self.assertEqual(seen, [{"tasks": []}, {"tasks": ["b"]}])
        self.assertEqual(r.conflicts, 1)
        self.assertEqual((r.version, r.value), (3, {"tasks": ["b", "a"]}))
        self.assertEqual(request_count(self.server.url, "memory_item", status="200") - gets, 1)
        self.assertEqual(c.get("backlog").value, {"tasks": ["b", "a"]})

    def test_absent_key(self) -> None:
        c = self.client(workspace="abs")
        with self.assertRaises(casmem.NotFound):
            c.update("nope", lambda v: 1)
        r = c.update("nope", lambda v: [] if v is None else v + [1], create=True)
        self.assertEqual((r.version, r.value), (1, []))
        # deleted and re-created: versions continue (a guard from before cannot match)
        c.delete("nope")
        r = c.update("nope", lambda v: ["again"] if v is None else v, create=True)
        self.assertEqual((r.version, r.value), (2, ["again"]))

    def test_create_race_starts_from_the_winner(self) -> None:
        c = self.client(workspace="race")
        other = self.client(workspace="race")
        seen: List[Any] = []

        def fn(v: Any) -> Any:
            seen.append(v)
            if len(seen) == 1:
                other.set("seeded", [0], if_version=0)  # another agent seeds it first
            return (v or []) + [1]

        r = c.update("seeded", fn, create=True)
        self.assertEqual(seen, [None, [0]])
        self.assertEqual(r.value, [0, 1])
        self.assertEqual(c.get("seeded").value, [0, 1])

    def test_key_deleted_midway_without_create(self) -> None:
        c = self.client(workspace="gone")
        other = self.client(workspace="gone")
        c.set("k", 1)

        def fn(v: Any) -> Any:
            other.delete("k")
            return v + 1

        with self.assertRaises(casmem.NotFound):
            c.update("k", fn)

    def test_key_deleted_midway_with_create_starts_again_from_none(self) -> None:
        c = self.client(workspace="gone2")
        other = self.client(workspace="gone2")
        c.set("k", [1])
        seen: List[Any] = []

        def fn(v: Any) -> Any:
            seen.append(v)
            if len(seen) == 1:
                other.delete("k")
            return (v or []) + [2]

        r = c.update("k", fn, create=True)
        self.assertEqual(seen, [[1], None])
        self.assertEqual((r.version, r.value), (2, [2]))  # re-created after the tombstone of version 1

    def test_gives_up_after_retries(self) -> None:
        c = self.client(workspace="busy")
        other = self.client(workspace="busy")
        c.set("k", 0)
        calls = [0]

        def fn(v: Any) -> Any:
            calls[0] += 1
            other.patch("k", [{"op": "increment", "path": "", "value": 1}])  # always ahead
            return v + 100

        with self.assertRaises(casmem.Conflict) as cm:
            c.update("k", fn, retries=3)
        self.assertEqual(calls[0], 4)  # the first write and 3 retries
        self.assertEqual(cm.exception.current_version, 5)
        self.assertEqual(c.get("k").value, 4)  # none of fn's writes applied

    def proxied(self, **kw: Any) -> "tuple[DroppingProxy, casmem.Client]":
        proxy = DroppingProxy(self.server.port)
        self.addCleanup(proxy.close)
        c = casmem.Client(proxy.url, timeout=60, **kw)
        self.addCleanup(c.close)
        return proxy, c

    def test_writes_carry_no_idempotency_key(self) -> None:
        # Conflict turns leave out requests with an Idempotency-Key: update
        # must not send one, or agents on a hot key starve one another.
        proxy, c = self.proxied(workspace="nokey")
        c.set("k", 1)
        self.assertIn(b"idempotency-key:", bytes(proxy.sent).lower())  # plain writes do
        del proxy.sent[:]
        c.update("k", lambda v: v + 1)
        self.assertIn(b"if_match_version", bytes(proxy.sent))
        self.assertNotIn(b"idempotency-key:", bytes(proxy.sent).lower())

    def test_write_lost_on_the_way_is_sent_again(self) -> None:
        proxy, c = self.proxied(workspace="resend", writer="me")
        c.set("k", 1)
        calls = [0]

        def fn(v: Any) -> Any:
            calls[0] += 1
            proxy.drop_requests = 1  # the write never reaches the server
            return v + 1

        r = c.update("k", fn)
        self.assertEqual((r.version, r.value, r.conflicts, calls[0]), (2, 2, 0, 1))
        self.assertEqual(proxy.dropped, 1)

    def test_answer_lost_after_the_write_applied_is_not_applied_twice(self) -> None:
        for writer in ("me", None):
            proxy, c = self.proxied(workspace=f"lost-{writer}", writer=writer)
            c.set("k", 1)
            calls = [0]

            def fn(v: Any) -> Any:
                calls[0] += 1
                proxy.drop = 1  # applied, but the answer is lost
                return v + 1

            with self.assertRaises(casmem.ConnectionFailed) as cm:
                c.update("k", fn)
            self.assertIn("unknown", cm.exception.message)
            self.assertEqual(calls[0], 1)
            e = c.get("k")
            self.assertEqual((e.version, e.value), (2, 2))  # once, not twice

    def test_fn_error_propagates_and_writes_nothing(self) -> None:
        c = self.client(workspace="err")
        c.set("k", 1)

        def boom(v: Any) -> Any:
            raise KeyError("no")

        with self.assertRaises(KeyError):
            c.update("k", boom)
        self.assertEqual(c.get("k").version, 1)
