"""Request/response over a widget's custom messages (the kernel side of ``js/src/shared/rpc.ts``).

The browser asks for what it needs when it needs it ("pull, don't push"): a page of thumbnails,
one full-size image, a tooltip's row. Every message is a dict carrying the key ``nbdiag_rpc``
(so it never collides with other custom messages on the same widget):

- browser -> kernel ``{"nbdiag_rpc": "request", "id": "c1x:7", "method": "page", "params": {..}}``
- browser -> kernel ``{"nbdiag_rpc": "cancel", "ids": ["c1x:7", ...]}``
- kernel -> browser ``{"nbdiag_rpc": "response", "id": "c1x:7", "ok": true, "result": {..}}``
  with binary buffers (images, typed arrays) referenced from ``result`` by position, or
  ``{"nbdiag_rpc": "response", "id": ..., "ok": false, "error": {"type": ..., "message": ...}}``.

Requests run on one worker thread per server, first in first out, so the kernel keeps reading
messages (and cancellations) while an image is decoded. A request cancelled while still queued is
never run; one cancelled while running may check :attr:`Call.cancelled` to stop early, and its
response is not sent. A method that raises answers with an error response: nothing is ever raised
into the widget. See docs/dev/widget-protocol.md, "RPC".
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: the key that marks a custom message as ours, and its kinds
KEY = "nbdiag_rpc"
REQUEST, CANCEL, RESPONSE = "request", "cancel", "response"


class RpcError(Exception):
    """Raise from a method to answer with a clean error (``type`` defaults to ``"RpcError"``)."""

    def __init__(self, message: str, type: str = "RpcError"):
        super().__init__(message)
        self.type = type


@dataclass
class Reply:
    """A method's answer: JSON-able ``result`` plus binary ``buffers`` (``result`` refers to them
    by position)."""

    result: dict[str, Any]
    buffers: list[bytes | memoryview] = field(default_factory=list)


@dataclass
class Call:
    """One request as a method sees it."""

    id: str
    method: str
    params: dict[str, Any]
    buffers: list[memoryview]
    _server: RpcServer | None = field(default=None, repr=False)

    @property
    def cancelled(self) -> bool:
        """The browser gave up on this request: stop early if you can."""
        return self._server is not None and self._server._is_cancelled(self.id)


Method = Callable[[Call], "Reply | dict[str, Any] | None"]
Send = Callable[[dict[str, Any], list[Any]], None]


class RpcServer:
    """Serve ``methods`` (name -> ``fn(call) -> Reply | dict``) over ``send(content, buffers)``.

    Feed it every custom message with :meth:`handle` (it ignores those that are not ours). With
    ``threaded=False`` requests run inline in :meth:`handle` (tests, or kernels without threads).
    """

    def __init__(
        self,
        methods: Mapping[str, Method],
        send: Send,
        *,
        threaded: bool = True,
        max_queue: int = 512,
        name: str = "nbdiag-rpc",
    ):
        self.methods = dict(methods)
        self._send = send
        self._threaded = threaded
        self._max_queue = max_queue
        self._name = name
        self._queue: deque[Call] = deque()
        self._cond = threading.Condition()
        self._running: str | None = None
        self._cancelled_running = False
        self._thread: threading.Thread | None = None
        self._closed = False
        #: counters, for tests and diagnostics
        self.stats = {"requests": 0, "answered": 0, "errors": 0, "skipped": 0, "cancels": 0}

    # ------------------------------------------------------------------ messages in
    def handle(self, content: Any, buffers: list[Any] | None = None) -> bool:
        """Take one custom message; returns whether it was an RPC message."""
        if not isinstance(content, dict) or KEY not in content:
            return False
        kind = content.get(KEY)
        if kind == REQUEST:
            self._on_request(content, buffers or [])
        elif kind == CANCEL:
            ids = content.get("ids")
            self.cancel([str(i) for i in ids] if isinstance(ids, list) else [])
        else:
            log.debug("nbdiag rpc: ignoring message kind %r", kind)
        return True

    def _on_request(self, content: dict[str, Any], buffers: list[Any]) -> None:
        rid = content.get("id")
        if not isinstance(rid, str | int) or isinstance(rid, bool):
            log.warning("nbdiag rpc: request without a usable id: %r", content)
            return
        rid = str(rid)
        method = content.get("method")
        params = content.get("params")
        self.stats["requests"] += 1
        if not isinstance(method, str) or method not in self.methods:
            self._respond_error(rid, "UnknownMethod", f"unknown method {method!r}")
            return
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self._respond_error(rid, "BadRequest", "params must be an object")
            return
        call = Call(rid, method, params, [memoryview(b) for b in buffers], self)
        if not self._threaded:
            self._run(call)
            return
        with self._cond:
            if self._closed:
                return
            if len(self._queue) >= self._max_queue:
                dropped = self._queue.popleft()
                self._respond_error(dropped.id, "Overloaded", "too many queued requests")
            self._queue.append(call)
            self._cond.notify()
        self._ensure_thread()

    def cancel(self, ids: list[str]) -> int:
        """Forget queued requests ``ids`` (and flag the running one); returns how many were
        dropped from the queue."""
        wanted = set(ids)
        self.stats["cancels"] += len(wanted)
        with self._cond:
            kept = [c for c in self._queue if c.id not in wanted]
            dropped = len(self._queue) - len(kept)
            if dropped:
                self._queue = deque(kept)
            if self._running is not None and self._running in wanted:
                self._cancelled_running = True
        self.stats["skipped"] += dropped
        return dropped

    def _is_cancelled(self, rid: str) -> bool:
        with self._cond:
            return self._running == rid and self._cancelled_running

    # ------------------------------------------------------------------ running
    def dispatch(self, call: Call) -> tuple[dict[str, Any], list[Any]]:
        """Run one call; returns the response message and its buffers (never raises)."""
        try:
            out = self.methods[call.method](call)
            reply = out if isinstance(out, Reply) else Reply(out or {})
            content = {KEY: RESPONSE, "id": call.id, "ok": True, "result": reply.result}
            return content, list(reply.buffers)
        except RpcError as e:
            return self._error(call.id, e.type, str(e)), []
        except Exception as e:  # a bad image or a bug: an error entry, never a dead widget
            log.warning("nbdiag rpc: %s(%s) failed", call.method, call.id, exc_info=True)
            return self._error(call.id, type(e).__name__, str(e) or type(e).__name__), []

    def _run(self, call: Call) -> None:
        content, buffers = self.dispatch(call)
        if call.cancelled:
            self.stats["skipped"] += 1
            return
        self.stats["answered" if content["ok"] else "errors"] += 1
        self._deliver(content, buffers)

    def _worker(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                call = self._queue.popleft()
                self._running, self._cancelled_running = call.id, False
            try:
                self._run(call)
            finally:
                with self._cond:
                    self._running, self._cancelled_running = None, False

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._worker, name=self._name, daemon=True)
                self._thread.start()

    def pending(self) -> int:
        """Requests queued (not yet started)."""
        with self._cond:
            return len(self._queue)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or running (tests); returns whether it got there."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._cond:
                if not self._queue and self._running is None:
                    return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        """Stop the worker; queued requests are dropped."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()

    # ------------------------------------------------------------------ messages out
    @staticmethod
    def _error(rid: str, type_: str, message: str) -> dict[str, Any]:
        return {KEY: RESPONSE, "id": rid, "ok": False, "error": {"type": type_, "message": message}}

    def _respond_error(self, rid: str, type_: str, message: str) -> None:
        self.stats["errors"] += 1
        self._deliver(self._error(rid, type_, message), [])

    def _deliver(self, content: dict[str, Any], buffers: list[Any]) -> None:
        try:
            self._send(content, buffers)
        except Exception:  # the comm may be closed: nothing to answer to
            log.debug("nbdiag rpc: could not send response %s", content.get("id"), exc_info=True)
