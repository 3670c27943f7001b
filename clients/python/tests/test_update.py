"""Client.update, the read / guarded write / retry-from-the-409 loop: many
threads on one key lose no update, a retry starts from the 409's value
without another read, create=True, and giving up after `retries`."""

from __future__ import annotations

import threading
from typing import Any, List

from support import ServerTestCase, casmem, request_count


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

    def test_fn_error_propagates_and_writes_nothing(self) -> None:
        c = self.client(workspace="err")
        c.set("k", 1)

        def boom(v: Any) -> Any:
            raise KeyError("no")

        with self.assertRaises(KeyError):
            c.update("k", boom)
        self.assertEqual(c.get("k").version, 1)
