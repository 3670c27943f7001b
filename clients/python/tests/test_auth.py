"""The client against a casmemd with access tokens: 401 and 403 as typed
errors, and writes named after their token."""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest

from support import Casmemd, casmem, make_token


class AuthTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="casmem-py-auth-")
        data = os.path.join(cls.tmp, "data")
        cls.admin = make_token(data, "root", "admin", "*")
        cls.writer = make_token(data, "pm-agent", "write", "team")
        cls.reader = make_token(data, "viewer", "read", "team")
        cls.server = Casmemd(data).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, token, workspace="team", **kw) -> casmem.Client:
        c = casmem.Client(self.server.url, token=token, workspace=workspace, timeout=60, **kw)
        self.addCleanup(c.close)
        return c

    def test_tokens_are_secrets(self) -> None:
        for t in (self.admin, self.writer, self.reader):
            self.assertTrue(t.startswith("cm_"), t)

    def test_no_token_or_unknown_token_is_unauthorized(self) -> None:
        with self.assertRaises(casmem.Unauthorized) as cm:
            self.client(None).get("k")
        self.assertEqual(cm.exception.status, 401)
        self.assertIn("bearer", cm.exception.headers.get("www-authenticate", "").lower())
        with self.assertRaises(casmem.Unauthorized):
            self.client("cm_not-a-real-secret").set("k", 1)
        with self.assertRaises(casmem.Unauthorized):
            list(self.client(None).list())
        with self.assertRaises(casmem.Unauthorized):
            next(self.client(None).watch(since=0))

    def test_roles_and_workspaces(self) -> None:
        w = self.client(self.writer)
        r = w.set("ledger", {"n": 1})
        self.assertEqual(r.version, 1)
        e = self.client(self.reader).get("ledger")
        self.assertEqual(e.value, {"n": 1})
        with self.assertRaises(casmem.Forbidden) as cm:
            self.client(self.reader).set("ledger", {"n": 2})
        self.assertEqual(cm.exception.status, 403)
        self.assertIn("viewer", cm.exception.message)
        with self.assertRaises(casmem.Forbidden):
            self.client(self.reader).update("ledger", lambda v: v)
        with self.assertRaises(casmem.Forbidden):
            self.client(self.writer, workspace="other").get("ledger")
        self.assertEqual([x.key for x in self.client(self.reader).list()], ["ledger"])
        self.assertEqual(self.client(self.admin, workspace="other").set("k", 1).version, 1)
        u = self.client(self.writer, writer="pm").update("ledger", lambda v: {"n": v["n"] + 1})
        self.assertEqual(u.version, 2)
        self.assertEqual(self.client(self.reader).get("ledger").writer, "pm")

    def test_token_from_environment(self) -> None:
        from unittest import mock
        with mock.patch.dict(os.environ, {"CASMEM_TOKEN": self.reader}):
            c = casmem.Client(self.server.url, workspace="team", timeout=60)
            self.addCleanup(c.close)
            c.list()  # no 401


if __name__ == "__main__":
    unittest.main()
