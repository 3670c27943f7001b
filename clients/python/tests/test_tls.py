"""The client over HTTPS: a casmemd with --tls-cert, verified with `cafile`,
refused without it, and `insecure`. Skipped without the openssl command."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import unittest

from support import Casmemd, casmem, take


@unittest.skipUnless(shutil.which("openssl"), "needs the openssl command")
class TlsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="casmem-py-tls-")
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        key = os.path.join(cls.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", key, "-out", cls.cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
        cls.server = Casmemd(os.path.join(cls.tmp, "data"),
                             ["--tls-cert", cls.cert, "--tls-key", key]).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_https_with_the_servers_ca(self) -> None:
        self.assertTrue(self.server.url.startswith("https://"))
        c = casmem.Client(self.server.url, cafile=self.cert, timeout=60)
        self.addCleanup(c.close)
        w = c.watch()
        self.addCleanup(w.close)
        c.set("k", {"a": 1})
        self.assertEqual(c.update("k", lambda v: {"a": v["a"] + 1}).value, {"a": 2})
        self.assertEqual([x.version for x in take(w, 2)], [1, 2])

    def test_unknown_certificate_is_refused(self) -> None:
        c = casmem.Client(self.server.url, timeout=60)
        self.addCleanup(c.close)
        with self.assertRaises(casmem.ConnectionFailed) as cm:
            c.get("k")
        self.assertIn("certificate", str(cm.exception).lower())
        with self.assertRaises(casmem.ConnectionFailed):
            take(c.watch(since=0), 1)
        insecure = casmem.Client(self.server.url, insecure=True, timeout=60)
        self.addCleanup(insecure.close)
        insecure.set("j", 1)


if __name__ == "__main__":
    unittest.main()
