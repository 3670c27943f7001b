"""casmem: a Python client for casmemd, the key-value memory server for agents.

This module owns the client side of the HTTP API of docs/api.md (spec
sections 3-9): reads, compare-and-set writes, patches, transactions, the
change feed (SSE watch and JSON long-poll) and `update`, the read / write
with `if_match_version` / retry-on-409 loop that agents otherwise write by
hand. Standard library only, Python >= 3.9; copy this one file anywhere.

    import casmem
    c = casmem.Client("http://127.0.0.1:7070", workspace="team", writer="pm")
    c.set("backlog", {"tasks": []}, if_version=0)
    c.update("backlog", lambda v: {**v, "tasks": v["tasks"] + ["write docs"]})

Thread safety: a Client may be shared by any number of threads. It keeps a
small pool of keep-alive connections; each request (and each `update` loop,
which keeps its connection so that a retry after a 409 is sent on the
connection that got it, as casmemd's conflict turns expect) takes one
connection for itself. A `watch` iterator has its own connection and
belongs to the thread that iterates it.

Numbers are decoded by Python's json module: integers keep every digit,
but a fraction such as 1.10 comes back as the float 1.1.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional,
                    Sequence, Tuple, Type, Union)

__all__ = [
    "Client", "Entry", "WriteResult", "UpdateResult", "DeleteResult",
    "TxnResult", "TxnOpResult", "Change", "ChangesPage", "Listing", "Op",
    "CasmemError", "ConnectionFailed", "BadRequest", "Unauthorized",
    "Forbidden", "NotFound", "Conflict", "PatchFailed", "TxnFailed",
    "Compacted", "PayloadTooLarge", "IdempotencyKeyReused", "RateLimited",
    "ServerError", "Unavailable", "BadAnswer",
]

__version__ = "0.1.0"

JSON = Any  # any JSON value: dict, list, str, int, float, bool or None


# ---------------------------------------------------------------- errors

class CasmemError(Exception):
    """An answer that is not a success, or no answer at all.

    `status` is the HTTP status (None when no answer came: see
    ConnectionFailed); `body` the decoded JSON body (a dict, usually
    {"error": reason}), or the raw text when it was not JSON.
    """

    def __init__(self, status: Optional[int], body: Any,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        self.status = status
        self.body = body
        self.headers: Dict[str, str] = dict(headers or {})
        reason = body.get("error") if isinstance(body, dict) else body
        self.message = str(reason) if reason is not None else ""
        super().__init__(f"{status}: {self.message}" if status is not None else self.message)


class ConnectionFailed(CasmemError):
    """casmemd could not be reached, or the connection broke before an answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, {"error": reason})


class BadRequest(CasmemError):
    """400: the request was malformed (bad key, bad JSON, bad parameter)."""


class Unauthorized(CasmemError):
    """401: no token, a malformed Authorization header, or an unknown token."""


class Forbidden(CasmemError):
    """403: the token's workspace or role does not allow the request."""


class NotFound(CasmemError):
    """404: no such key (or an unknown path)."""


class Conflict(CasmemError):
    """409: the `if_match_version` guard did not match.

    `current_version` is None and `current_value` None when the key is
    absent; `current_writer` names the writer of the current version when
    that write named one. A retry can start from `current_value` without
    another read.
    """

    def __init__(self, status: Optional[int], body: Any,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(status, body, headers)
        b = body if isinstance(body, dict) else {}
        self.expected_version: Optional[int] = b.get("expected_version")
        self.current_version: Optional[int] = b.get("current_version")
        self.current_value: JSON = b.get("current_value")
        self.current_writer: Optional[str] = b.get("current_writer")


class PatchFailed(Conflict):
    """409 of a PATCH whose operations could not apply (a failed `test`, a
    missing path...); `op_index` is the failing operation. Nothing was written."""

    def __init__(self, status: Optional[int], body: Any,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(status, body, headers)
        b = body if isinstance(body, dict) else {}
        self.op_index: Optional[int] = b.get("op_index")


class TxnFailed(Conflict):
    """409 of a transaction: op `op_index` failed for `reason`; nothing was
    written. `patch_op_index` is set when a patch op failed."""

    def __init__(self, status: Optional[int], body: Any,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(status, body, headers)
        b = body if isinstance(body, dict) else {}
        self.op_index: Optional[int] = b.get("op_index")
        self.reason: Optional[str] = b.get("reason")
        self.patch_op_index: Optional[int] = b.get("patch_op_index")


class Compacted(CasmemError):
    """The change history before `compact_revision` is no longer kept (410 of
    `changes`, or the `compacted` event of a watch). List again and watch
    from the listing's revision."""

    def __init__(self, compact_revision: int, status: Optional[int] = 410,
                 body: Any = None) -> None:
        super().__init__(status, body if body is not None else
                         {"error": "compacted", "compact_revision": compact_revision})
        self.compact_revision = compact_revision


class PayloadTooLarge(CasmemError):
    """413: the value, body or patch result is larger than the server allows."""


class IdempotencyKeyReused(CasmemError):
    """422: the Idempotency-Key was already used for a different request."""


class RateLimited(CasmemError):
    """429: past the server's --rate-limit; `retry_after` in seconds."""

    def __init__(self, status: Optional[int], body: Any,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(status, body, headers)
        try:
            self.retry_after: Optional[float] = float(self.headers.get("retry-after", ""))
        except ValueError:
            self.retry_after = None


class ServerError(CasmemError):
    """5xx: the server failed the request."""


class Unavailable(ServerError):
    """503: storage unavailable or busy, or too many connections; nothing was
    written. The client already retried it `max_retries` times."""


class BadAnswer(CasmemError):
    """The server's answer breaks the protocol (for example a next-page link
    that does not move forward, which would list forever); `status` is None."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, {"error": reason})


_BY_STATUS: Dict[int, Type[CasmemError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
    409: Conflict, 413: PayloadTooLarge, 422: IdempotencyKeyReused, 429: RateLimited,
    503: Unavailable,
}


def _error_for(status: int, body: Any, headers: Mapping[str, str]) -> CasmemError:
    """The typed exception of a non-2xx answer."""
    reason = body.get("error", "") if isinstance(body, dict) else ""
    if status == 409 and isinstance(body, dict):
        if reason == "transaction failed":
            return TxnFailed(status, body, headers)
        if str(reason).startswith("patch failed"):
            return PatchFailed(status, body, headers)
    if status == 410 and isinstance(body, dict) and "compact_revision" in body:
        return Compacted(int(body["compact_revision"]), status, body)
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else CasmemError)
    return cls(status, body, headers)


# ---------------------------------------------------------------- results

@dataclasses.dataclass
class Entry:
    """A key's live state, as GET and listings return it."""
    key: str
    value: JSON
    version: int
    revision: int
    updated_at: str
    expires_at: Optional[str] = None
    writer: Optional[str] = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Entry":
        return cls(key=d["key"], value=d.get("value"), version=int(d["version"]),
                   revision=int(d.get("revision", 0)), updated_at=d.get("updated_at", ""),
                   expires_at=d.get("expires_at"), writer=d.get("writer"))


@dataclasses.dataclass
class WriteResult:
    """The answer to a set, patch or merge. `value` is the new value for a
    patch or merge (None for a set); `replayed` is True when the server
    answered from an earlier request with the same Idempotency-Key."""
    key: str
    version: int
    revision: int
    value: JSON = None
    replayed: bool = False


@dataclasses.dataclass
class UpdateResult(WriteResult):
    """The answer to `update`: `value` is the value written; `conflicts` how
    many 409s the loop met (fn was called conflicts + 1 times)."""
    conflicts: int = 0


@dataclasses.dataclass
class DeleteResult:
    """The answer to a delete. `revision` is None when no live key existed
    (nothing was written)."""
    key: str
    revision: Optional[int]
    replayed: bool = False

    @property
    def existed(self) -> bool:
        return self.revision is not None


@dataclasses.dataclass
class TxnOpResult:
    """One op's result: the version written, or seen by a check (None for an
    absent key)."""
    key: str
    version: Optional[int]


@dataclasses.dataclass
class TxnResult:
    """A committed transaction: one revision for every key it wrote."""
    revision: int
    results: List[TxnOpResult]
    replayed: bool = False


@dataclasses.dataclass
class Change:
    """One change of the feed: `event` is "put", "delete" or "expire". For a
    put, `value`, `updated_at`, `expires_at` and `writer` are the entry's;
    for delete/expire, `version` is the tombstone's."""
    event: str
    key: str
    version: int
    revision: int
    value: JSON = None
    updated_at: Optional[str] = None
    expires_at: Optional[str] = None
    writer: Optional[str] = None

    @classmethod
    def from_json(cls, event: str, d: Mapping[str, Any]) -> "Change":
        return cls(event=event, key=d["key"], version=int(d["version"]),
                   revision=int(d["revision"]), value=d.get("value"),
                   updated_at=d.get("updated_at"), expires_at=d.get("expires_at"),
                   writer=d.get("writer"))


@dataclasses.dataclass
class ChangesPage:
    """A page of `changes`: pass `revision` as the next `since`."""
    changes: List[Change]
    revision: int


class Op:
    """Builders of transaction ops (spec section 6), for `Client.txn`:

        c.txn([Op.check("queue", 7), Op.patch("queue", [{"op": "remove", "path": "/0"}]),
               Op.set("claim:42", {"by": "me"}, if_version=0, ttl=600)])
    """

    @staticmethod
    def set(key: str, value: JSON, *, if_version: Optional[int] = None,
            ttl: Optional[int] = None) -> Dict[str, Any]:
        """Write `value` (no `ttl`: no TTL)."""
        op: Dict[str, Any] = {"op": "set", "key": key, "value": value}
        _put_opt(op, "if_match_version", if_version)
        _put_opt(op, "ttl_seconds", ttl)
        return op

    @staticmethod
    def patch(key: str, ops: Sequence[Mapping[str, Any]], *, if_version: Optional[int] = None,
              ttl: Optional[int] = None) -> Dict[str, Any]:
        """Apply a JSON Patch (no `ttl`: the TTL is kept)."""
        op: Dict[str, Any] = {"op": "patch", "key": key, "patch": list(ops)}
        _put_opt(op, "if_match_version", if_version)
        _put_opt(op, "ttl_seconds", ttl)
        return op

    @staticmethod
    def merge(key: str, doc: JSON, *, if_version: Optional[int] = None,
              ttl: Optional[int] = None) -> Dict[str, Any]:
        """Apply a JSON Merge Patch (no `ttl`: the TTL is kept)."""
        op: Dict[str, Any] = {"op": "patch", "key": key, "merge": doc}
        _put_opt(op, "if_match_version", if_version)
        _put_opt(op, "ttl_seconds", ttl)
        return op

    @staticmethod
    def delete(key: str, *, if_version: Optional[int] = None) -> Dict[str, Any]:
        """Delete the key (if at `if_version`, when given)."""
        op: Dict[str, Any] = {"op": "delete", "key": key}
        _put_opt(op, "if_match_version", if_version)
        return op

    @staticmethod
    def check(key: str, version: int) -> Dict[str, Any]:
        """Require the key at `version` (0: absent); writes nothing."""
        return {"op": "check", "key": key, "version": version}


def _put_opt(d: Dict[str, Any], name: str, v: Any) -> None:
    if v is not None:
        d[name] = v


def _duration(seconds: Union[float, int, str]) -> str:
    """A query-string duration: a number of seconds as milliseconds."""
    if isinstance(seconds, str):
        return seconds
    return f"{max(0, int(round(float(seconds) * 1000)))}ms"


def _seconds(d: Union[float, int, str, None]) -> float:
    """Seconds of a duration given as a number or as casmem's text form."""
    if d is None:
        return 0.0
    if not isinstance(d, str):
        return float(d)
    for unit, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if d.endswith(unit) and d[:-len(unit)].isdigit():
            return int(d[:-len(unit)]) * scale
    return float(d) if d.isdigit() else 300.0


# ---------------------------------------------------------------- transport

@dataclasses.dataclass
class _Response:
    status: int
    headers: Dict[str, str]  # lower-case names
    body: Any


_WATCH_SILENCE = 45.0  # seconds without a byte after which a watch reconnects

# The largest answer body read (a 1 MiB value JSON-escaped and large list
# pages fit easily) and the longest watch line or event: a longer one, from
# a broken or hostile server, raises ConnectionFailed instead of growing.
_MAX_BODY = 64 << 20
_MAX_SSE_EVENT = 16 << 20

_NO_BODY: Any = object()  # no request body (None is the JSON null)

_RETRYABLE_NET = (ConnectionError, http.client.HTTPException, socket.timeout, OSError)


class _Conn:
    """One keep-alive connection and when it was last used."""

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.http = conn
        self.last_used = time.monotonic()


class Client:
    """A casmemd client (see the module docstring for thread safety).

    url, token, workspace and writer default to $CASMEM_URL,
    $CASMEM_TOKEN, $CASMEM_WORKSPACE and $CASMEM_WRITER, then to
    http://127.0.0.1:7070, no token, "default" and no writer. `writer` is
    sent as Casmem-Writer on every write. `timeout` bounds connecting and
    each read of an answer, in seconds. `cafile` verifies an https:// server
    with that PEM CA certificate; `insecure` skips verification.
    `idempotency` sends a fresh Idempotency-Key with every logical write, so
    that the client's own retries (after a broken connection or a 503, at
    most `max_retries`) never apply a write twice; without it, writes are
    not retried after a broken connection.
    """

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None,
                 workspace: Optional[str] = None, writer: Optional[str] = None,
                 timeout: float = 30, cafile: Optional[str] = None, *,
                 insecure: bool = False, idempotency: bool = True,
                 max_retries: int = 3, pool_size: int = 8) -> None:
        url = url or os.environ.get("CASMEM_URL") or "http://127.0.0.1:7070"
        self.token = token if token is not None else (os.environ.get("CASMEM_TOKEN") or None)
        self.workspace = workspace or os.environ.get("CASMEM_WORKSPACE") or "default"
        self.writer = writer if writer is not None else (os.environ.get("CASMEM_WRITER") or None)
        self.timeout = timeout
        self.idempotency = idempotency
        self.max_retries = max_retries
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"casmem url must be http://HOST[:PORT] or https://...: {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        self._ssl: Optional[ssl.SSLContext] = None
        if self._https:
            self._ssl = ssl.create_default_context(cafile=cafile)
            if insecure:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._pool: List[_Conn] = []
        self._pool_size = pool_size
        self._lock = threading.Lock()

    # -- connections

    def _new_http(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                               context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _checkout(self) -> _Conn:
        """An idle pooled connection, or a new one. Connections idle for
        long may have been closed by the server (--idle-timeout): dropped."""
        now = time.monotonic()
        with self._lock:
            while self._pool:
                c = self._pool.pop()
                if now - c.last_used < 20:
                    return c
                c.http.close()
        return _Conn(self._new_http(self.timeout))

    def _checkin(self, c: _Conn) -> None:
        c.last_used = time.monotonic()
        with self._lock:
            if len(self._pool) < self._pool_size:
                self._pool.append(c)
                return
        c.http.close()

    def close(self) -> None:
        """Close the pooled connections (the client stays usable)."""
        with self._lock:
            pool, self._pool = self._pool, []
        for c in pool:
            c.http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- requests

    def _path(self, *segments: str, query: Optional[Mapping[str, Any]] = None) -> str:
        ws = urllib.parse.quote(self.workspace, safe="")
        p = self._base + f"/workspaces/{ws}" + "".join(
            "/" + urllib.parse.quote(s, safe="") for s in segments)
        q = {k: v for k, v in (query or {}).items() if v is not None and v != ""}
        if q:
            # quote, not quote_plus: casmemd reads '+' as a plus, never a space.
            p += "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="")
        return p

    def _headers(self, content_type: Optional[str], write: bool) -> Dict[str, str]:
        h = {"Accept": "application/json", "User-Agent": f"casmem-python/{__version__}"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if content_type:
            h["Content-Type"] = content_type
        if write and self.writer:
            h["Casmem-Writer"] = self.writer
        return h

    def _request(self, method: str, path: str, body: Any = _NO_BODY, *,
                 content_type: str = "application/json", write: bool = False,
                 idempotency_key: Optional[str] = None, conn: Optional[_Conn] = None,
                 read_timeout: Optional[float] = None, keyless: bool = False) -> _Response:
        """Send one logical request and return its 2xx answer, or raise.

        A write gets one Idempotency-Key (given, or fresh when idempotency
        is on) reused by every retry of this call, so that a retry after a
        broken connection or a 503 is answered from the first if it had
        applied. With `conn`, that connection is used (and kept) throughout.
        `keyless`: no Idempotency-Key (see `update`), so no retry after a
        broken connection.
        """
        data = None
        if body is not _NO_BODY:  # None is a body: JSON null
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = self._headers(content_type if data is not None else None, write)
        if write and idempotency_key is None and self.idempotency and not keyless:
            idempotency_key = secrets.token_urlsafe(24)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        # A retry is safe for reads, and for writes with an Idempotency-Key.
        may_retry_net = not write or idempotency_key is not None
        own = conn is None
        c = conn if conn is not None else self._checkout()
        attempt = 0
        in_progress_waits = 0
        try:
            while True:
                try:
                    resp = self._exchange(c, method, path, data, headers, read_timeout)
                except _RETRYABLE_NET as e:
                    c.http.close()
                    if isinstance(e, ssl.SSLCertVerificationError):
                        raise ConnectionFailed(f"{method} {path}: {e}") from e
                    if not may_retry_net or attempt >= self.max_retries:
                        raise ConnectionFailed(f"{method} {path}: {e!r}") from e
                    attempt += 1
                    time.sleep(min(0.05 * (2 ** attempt), 1.0))
                    continue
                if resp.status == 503 and attempt < self.max_retries:
                    attempt += 1
                    time.sleep(min(0.05 * (2 ** attempt), 1.0))
                    continue
                if (resp.status == 409 and idempotency_key is not None and
                        isinstance(resp.body, dict) and
                        resp.body.get("error") == "request in progress" and
                        in_progress_waits < 200):
                    # Our own earlier attempt is waiting for its fsync.
                    in_progress_waits += 1
                    time.sleep(0.025)
                    continue
                if 200 <= resp.status < 300:
                    return resp
                raise _error_for(resp.status, resp.body, resp.headers)
        finally:
            if own:
                self._checkin(c)

    def _exchange(self, c: _Conn, method: str, path: str, data: Optional[bytes],
                  headers: Mapping[str, str], read_timeout: Optional[float]) -> _Response:
        """One HTTP exchange on `c`, the answer read whole (so that the
        connection can carry the next request)."""
        h = c.http
        timeout = self.timeout if read_timeout is None else read_timeout
        h.timeout = timeout
        if h.sock is not None:
            h.sock.settimeout(timeout)
        h.request(method, path, body=data, headers=dict(headers))
        r = h.getresponse()
        raw = r.read(_MAX_BODY + 1)
        if len(raw) > _MAX_BODY:
            h.close()  # the rest is never read: the connection is unusable
            raise ConnectionFailed(f"{method} {path}: the answer is over {_MAX_BODY >> 20} MiB")
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.will_close:
            h.close()
        text = raw.decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = text
        return _Response(r.status, hdrs, body)

    # -- reads

    def get(self, key: str, *, wait_version: Optional[int] = None,
            wait: Union[float, str, None] = None) -> Entry:
        """The key's entry; NotFound when absent. With `wait_version` (and
        `wait`, seconds, at most 300), a blocking read: answers once the
        version is not `wait_version` (absent counts as 0), or after `wait`."""
        q: Dict[str, Any] = {}
        rt = None
        if wait_version is not None:
            q["wait_version"] = str(wait_version)
            if wait is not None:
                q["wait"] = _duration(wait)
            rt = self.timeout + (_seconds(wait) if wait is not None else 300.0)
        r = self._request("GET", self._path("memory", key, query=q), read_timeout=rt)
        return Entry.from_json(r.body)

    def list(self, prefix: str = "", *, page_size: int = 1000,
             after: Optional[str] = None) -> "Listing":
        """Every live entry whose key starts with `prefix`, by key, fetched
        `page_size` at a time following the server's Link headers. The first
        page is fetched now: the Listing's `revision` is its Casmem-Revision
        (watch from it to miss nothing)."""
        return Listing(self, prefix, page_size, after)

    # -- writes

    def set(self, key: str, value: JSON, *, if_version: Optional[int] = None,
            ttl: Optional[int] = None, idempotency_key: Optional[str] = None) -> WriteResult:
        """Write `value`. `if_version`: only if the key is at that version
        (0: only if absent), else Conflict. `ttl`: expire after that many
        seconds (without it, any TTL is cleared)."""
        return self._set(key, value, if_version, ttl, idempotency_key, None)

    def _set(self, key: str, value: JSON, if_version: Optional[int], ttl: Optional[int],
             idempotency_key: Optional[str], conn: Optional[_Conn],
             keyless: bool = False) -> WriteResult:
        body: Dict[str, Any] = {"key": key, "value": value}
        _put_opt(body, "if_match_version", if_version)
        _put_opt(body, "ttl_seconds", ttl)
        r = self._request("POST", self._path("memory"), body, write=True,
                          idempotency_key=idempotency_key, conn=conn, keyless=keyless)
        return WriteResult(key=r.body.get("key", key), version=int(r.body["version"]),
                           revision=int(r.body.get("revision", 0)),
                           replayed=r.headers.get("idempotency-replayed") == "true")

    def delete(self, key: str, *, if_version: Optional[int] = None,
               idempotency_key: Optional[str] = None) -> DeleteResult:
        """Delete the key (only at `if_version` when given, else Conflict).
        Deleting an absent key succeeds with `revision` None."""
        q = {"if_match_version": str(if_version) if if_version is not None else None}
        r = self._request("DELETE", self._path("memory", key, query=q), write=True,
                          idempotency_key=idempotency_key)
        rev = r.body.get("revision")
        return DeleteResult(key=key, revision=int(rev) if rev is not None else None,
                            replayed=r.headers.get("idempotency-replayed") == "true")

    def patch(self, key: str, ops: Sequence[Mapping[str, Any]], *,
              if_version: Optional[int] = None, ttl: Optional[int] = None,
              idempotency_key: Optional[str] = None) -> WriteResult:
        """Apply a JSON Patch (RFC 6902, plus casmem's `increment`) on the
        server. PatchFailed when an op cannot apply, Conflict on a guard
        mismatch. Without `ttl` the key keeps its TTL."""
        return self._patch(key, list(ops), "application/json-patch+json", if_version, ttl,
                           idempotency_key)

    def merge(self, key: str, doc: JSON, *, if_version: Optional[int] = None,
              ttl: Optional[int] = None, idempotency_key: Optional[str] = None) -> WriteResult:
        """Apply a JSON Merge Patch (RFC 7396); an absent key starts as null."""
        return self._patch(key, doc, "application/merge-patch+json", if_version, ttl,
                           idempotency_key)

    def _patch(self, key: str, body: JSON, ctype: str, if_version: Optional[int],
               ttl: Optional[int], idempotency_key: Optional[str]) -> WriteResult:
        q = {"if_match_version": str(if_version) if if_version is not None else None,
             "ttl_seconds": str(ttl) if ttl is not None else None}
        r = self._request("PATCH", self._path("memory", key, query=q), body, content_type=ctype,
                          write=True, idempotency_key=idempotency_key)
        return WriteResult(key=r.body.get("key", key), version=int(r.body["version"]),
                           revision=int(r.body.get("revision", 0)), value=r.body.get("value"),
                           replayed=r.headers.get("idempotency-replayed") == "true")

    def txn(self, ops: Sequence[Mapping[str, Any]], *,
            idempotency_key: Optional[str] = None) -> TxnResult:
        """Apply ops (see `Op`) all together or none: TxnFailed names the
        failing op."""
        r = self._request("POST", self._path("txn"), {"ops": list(ops)}, write=True,
                          idempotency_key=idempotency_key)
        res = [TxnOpResult(key=x["key"], version=x.get("version")) for x in r.body["results"]]
        return TxnResult(revision=int(r.body["revision"]), results=res,
                         replayed=r.headers.get("idempotency-replayed") == "true")

    def update(self, key: str, fn: Callable[[JSON], JSON], *, retries: int = 10,
               create: bool = False, ttl: Optional[int] = None) -> UpdateResult:
        """Read-modify-write without lost updates.

        Reads the key, writes fn(value) with `if_match_version` of the
        version read; on a 409 calls fn again on the 409's `current_value`
        and retries at its `current_version`, without another read, on the
        same connection. fn must be a pure function of its argument (it may
        run several times; it may modify the value it is given). With
        create=True an absent key starts from fn(None), written only if
        still absent; otherwise an absent key raises NotFound. Raises
        Conflict after `retries` retries (1 + retries writes). `ttl` is
        given to every write (a write without it clears the key's TTL).

        Its writes carry no Idempotency-Key: casmemd's conflict turns
        (docs/api.md, "Retries on a hot key"), which make agents on one hot
        key take turns instead of starving one another, leave out requests
        with one. The guard makes a resend safe instead: after a broken
        connection the same write is sent again; if it then conflicts with
        a version that may be its own, ConnectionFailed says that the
        outcome is unknown (read the key to find out).
        """
        c = self._checkout()
        try:
            try:
                e = Entry.from_json(self._request("GET", self._path("memory", key),
                                                  conn=c).body)
                value, version = e.value, e.version
            except NotFound:
                if not create:
                    raise
                value, version = None, 0
            conflicts = 0
            while True:
                new = fn(value)
                try:
                    w = self._send_guarded(c, key, new, version, ttl)
                except Conflict as cf:
                    if not isinstance(cf.body, dict) or "expected_version" not in cf.body:
                        raise  # not a guard mismatch (e.g. "request in progress")
                    conflicts += 1
                    if conflicts > retries:
                        raise
                    if cf.current_version is None:
                        if not create:
                            raise NotFound(cf.status, cf.body, cf.headers) from cf
                        value, version = None, 0
                    else:
                        value, version = cf.current_value, cf.current_version
                    continue
                return UpdateResult(key=w.key, version=w.version, revision=w.revision,
                                    value=new, replayed=w.replayed, conflicts=conflicts)
        finally:
            self._checkin(c)

    def _send_guarded(self, c: _Conn, key: str, new: JSON, version: int,
                      ttl: Optional[int]) -> WriteResult:
        """One guarded write of `update`, resent after a broken connection.
        A 409 after a resend is passed on only when the write it reports
        cannot be this one (the next version, by another named writer)."""
        resent = 0
        while True:
            try:
                return self._set(key, new, version, ttl, None, c, keyless=True)
            except ConnectionFailed:
                if resent >= self.max_retries:
                    raise
                resent += 1
                time.sleep(min(0.05 * (2 ** resent), 1.0))
            except Conflict as cf:
                not_ours = (version > 0 and cf.current_version == version + 1 and
                            self.writer is not None and cf.current_writer is not None and
                            cf.current_writer != self.writer)
                if resent == 0 or not_ours or "expected_version" not in (
                        cf.body if isinstance(cf.body, dict) else {}):
                    raise
                raise ConnectionFailed(
                    f"update of {key!r}: the connection broke after the write at version "
                    f"{version} was sent, and the key has moved on to version "
                    f"{cf.current_version}: whether this write applied is unknown") from cf

    # -- change feed

    def changes(self, since: int = 0, prefix: str = "", limit: Optional[int] = None,
                wait: Union[float, str, None] = None) -> ChangesPage:
        """The changes after revision `since` as one JSON page; with `wait`
        (seconds, at most 300) waits for one when there is none yet.
        Compacted when `since` is older than the history kept."""
        q = {"since": str(since), "prefix": prefix,
             "limit": str(limit) if limit is not None else None,
             "wait": _duration(wait) if wait is not None else None}
        rt = self.timeout + _seconds(wait) if wait is not None else None
        r = self._request("GET", self._path("changes", query=q), read_timeout=rt)
        return ChangesPage(changes=[Change.from_json(d.get("event", ""), d)
                                    for d in r.body["changes"]],
                           revision=int(r.body["revision"]))

    def watch(self, prefix: str = "", since: Optional[int] = None, *,
              reconnect_for: Optional[float] = None) -> Iterator[Change]:
        """The changes of keys starting with `prefix` after revision `since`
        (None: from now), as they become durable, forever.

        Reconnects by itself from the last revision received after a broken
        connection, a server restart or `lagged`, so no change is missed or
        repeated (a transaction's changes are yielded together, once its last
        one arrived). Raises Compacted when `since` is older than the history
        kept; an HTTP error (401, 403, 400) is raised as such. `reconnect_for`
        bounds, in seconds, how long it keeps failing to reconnect before
        raising ConnectionFailed (None: forever). Reading blocks: close the
        generator (or leave the loop) to end the stream.
        """
        if since is None:
            # The stream would start "now", but a reconnect needs a revision:
            # take the current one from a listing (every write up to it is
            # before the stream, every one after it comes through the watch).
            since = Listing(self, prefix, 1, None).revision
        return self._watch(prefix, since, reconnect_for)

    def _watch(self, prefix: str, since: int,
               reconnect_for: Optional[float]) -> Iterator[Change]:
        last = since
        failing_since: Optional[float] = None
        backoff = 0.05
        while True:
            h = self._new_http(self.timeout)
            try:
                path = self._path("watch", query={"prefix": prefix, "since": str(last)})
                h.connect()
                # An idle stream gets a heartbeat every --watch-heartbeat
                # (15 s): only a longer silence means a dead connection.
                assert h.sock is not None
                h.sock.settimeout(max(self.timeout, _WATCH_SILENCE))
                h.request("GET", path, headers=self._headers(None, False))
                r = h.getresponse()
                if r.status != 200:
                    raw = r.read(_MAX_BODY).decode("utf-8", errors="replace")
                    try:
                        body: Any = json.loads(raw)
                    except ValueError:
                        body = raw
                    if r.status != 503:
                        raise _error_for(r.status, body, {k.lower(): v for k, v in r.getheaders()})
                    raise ConnectionError("503 " + raw)
                failing_since = None
                backoff = 0.05
                pending: List[Change] = []  # changes of a transaction not yet closed by an id
                for ev, data, ev_id in _sse_events(r):
                    if ev == "compacted":
                        d = json.loads(data)
                        raise Compacted(int(d["compact_revision"]), 200, d)
                    if ev == "lagged":
                        break
                    if ev in ("put", "delete", "expire"):
                        pending.append(Change.from_json(ev, json.loads(data)))
                    if ev_id is not None:
                        batch, pending = pending, []
                        for ch in batch:
                            yield ch
                        last = int(ev_id)
                # The stream ended (lagged, shutdown, a proxy): resume at once.
            except _RETRYABLE_NET as e:
                if isinstance(e, ssl.SSLCertVerificationError):
                    raise ConnectionFailed(f"watch: {e}") from e
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                elif reconnect_for is not None and now - failing_since > reconnect_for:
                    raise ConnectionFailed(f"watch: {e!r}") from e
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                h.close()


def _sse_events(r: http.client.HTTPResponse) -> Iterator[Tuple[str, str, Optional[str]]]:
    """(event, data, id) of each event of a text/event-stream, until it ends.
    Comment lines and `retry:` are skipped; an event without data lines but
    with an id is still reported (its type is then "")."""
    event = ""
    data: List[str] = []
    ev_id: Optional[str] = None
    data_len = 0
    while True:
        line_b = r.readline(_MAX_SSE_EVENT + 1)
        if not line_b:
            return
        data_len += len(line_b)
        if len(line_b) > _MAX_SSE_EVENT or data_len > _MAX_SSE_EVENT:
            raise ConnectionFailed(f"watch: a line or event over {_MAX_SSE_EVENT >> 20} MiB: "
                                   "not an event stream")
        line = line_b.decode("utf-8", errors="replace").rstrip("\r\n")
        if line == "":
            if data or ev_id is not None or event:
                yield (event or "message", "\n".join(data), ev_id)
            event, data, ev_id, data_len = "", [], None, 0
            continue
        if line.startswith(":"):
            continue
        name, _, val = line.partition(":")
        if val.startswith(" "):
            val = val[1:]
        if name == "event":
            event = val
        elif name == "data":
            data.append(val)
        elif name == "id":
            ev_id = val


class Listing(Iterator[Entry]):
    """An iterator over a listing's entries, page after page. `revision` is
    the first page's Casmem-Revision."""

    def __init__(self, client: Client, prefix: str, page_size: int,
                 after: Optional[str]) -> None:
        self._client = client
        self._query: Optional[Dict[str, Any]] = {
            "prefix": prefix, "limit": str(page_size), "after": after}
        self._page: List[Entry] = []
        self._i = 0
        self._after = (after or "").encode("utf-8")  # the cursor of the page asked for
        self.revision: int = -1
        self._fetch()

    def _fetch(self) -> None:
        assert self._query is not None
        r = self._client._request("GET", self._client._path("memory", query=self._query))
        if self.revision < 0:
            self.revision = int(r.headers.get("casmem-revision", "0"))
        self._page = [Entry.from_json(d) for d in r.body]
        self._i = 0
        self._query = _next_query(r.headers.get("link", ""))
        if self._query is not None:
            # Keys come in byte order: a next page's cursor is beyond the
            # last one, or the same pages would be asked for forever.
            nxt = (self._query.get("after") or "").encode("utf-8")
            if nxt <= self._after:
                self._query = None
                raise BadAnswer("the next-page link does not move forward (after="
                                f"{nxt.decode('utf-8', errors='replace')!r})")
            self._after = nxt

    def __iter__(self) -> "Listing":
        return self

    def __next__(self) -> Entry:
        while self._i >= len(self._page):
            if self._query is None:
                raise StopIteration
            self._fetch()
        e = self._page[self._i]
        self._i += 1
        return e


def _next_query(link: str) -> Optional[Dict[str, Any]]:
    """The query of a Link header's rel="next" target, or None."""
    for part in link.split(","):
        part = part.strip()
        if not part.startswith("<") or ">" not in part:
            continue
        target, _, params = part[1:].partition(">")
        if 'rel="next"' not in params.replace(" ", "") and "rel=next" not in params:
            continue
        query = urllib.parse.urlsplit(target).query
        return {k: v for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)}
    return None
