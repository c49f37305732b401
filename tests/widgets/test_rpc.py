"""The kernel side of the request/response channel, driven as the browser drives it."""

from __future__ import annotations

import threading
import time

import pytest

from nbdiag.widgets._rpc import KEY, Call, Reply, RpcError, RpcServer


class Recorder:
    """A ``send`` that records responses (thread-safe) and can wait for them."""

    def __init__(self):
        self.sent: list[tuple[dict, list]] = []
        self._cond = threading.Condition()

    def __call__(self, content, buffers):
        with self._cond:
            self.sent.append((content, list(buffers)))
            self._cond.notify_all()

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[dict, list]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.sent) >= n, timeout), self.sent
            return list(self.sent)

    def by_id(self) -> dict[str, dict]:
        return {c["id"]: c for c, _ in self.sent}


def request(rid, method="echo", params=None):
    return {KEY: "request", "id": rid, "method": method, "params": params or {}}


def echo(call: Call) -> Reply:
    return Reply({"params": call.params, "n_buffers": len(call.buffers)}, [b"\x01\x02", b"xyz"])


def test_request_gets_its_result_and_buffers_inline():
    rec = Recorder()
    rpc = RpcServer({"echo": echo}, rec, threaded=False)
    assert rpc.handle(request("c:1", params={"a": 1}), [b"in"])
    (content, buffers) = rec.sent[0]
    assert content == {
        KEY: "response",
        "id": "c:1",
        "ok": True,
        "result": {"params": {"a": 1}, "n_buffers": 1},
    }
    assert [bytes(b) for b in buffers] == [b"\x01\x02", b"xyz"]
    assert rpc.stats["answered"] == 1


def test_methods_may_return_a_dict_or_nothing():
    rec = Recorder()
    rpc = RpcServer({"d": lambda c: {"x": 1}, "n": lambda c: None}, rec, threaded=False)
    rpc.handle(request("1", "d"))
    rpc.handle(request(2, "n"))  # numeric ids are answered as strings
    assert rec.by_id()["1"]["result"] == {"x": 1}
    assert rec.by_id()["2"]["result"] == {}


def test_errors_come_back_as_messages_never_as_exceptions():
    def bad_image(call):
        raise OSError("cannot identify image file '/x/broken.png'")

    def clean(call):
        raise RpcError("no such row", "BadRequest")

    rec = Recorder()
    rpc = RpcServer({"bad": bad_image, "clean": clean}, rec, threaded=False)
    rpc.handle(request("a", "bad"))
    rpc.handle(request("b", "clean"))
    rpc.handle(request("c", "nope"))
    rpc.handle({KEY: "request", "id": "d", "method": "clean", "params": [1, 2]})
    got = rec.by_id()
    assert got["a"]["ok"] is False
    assert got["a"]["error"] == {
        "type": "OSError",
        "message": "cannot identify image file '/x/broken.png'",
    }
    assert got["b"]["error"] == {"type": "BadRequest", "message": "no such row"}
    assert got["c"]["error"]["type"] == "UnknownMethod"
    assert got["d"]["error"]["type"] == "BadRequest"
    assert rpc.stats["errors"] == 4


def test_other_messages_are_not_ours():
    rec = Recorder()
    rpc = RpcServer({"echo": echo}, rec, threaded=False)
    assert rpc.handle({"type": "anywidget-command"}) is False
    assert rpc.handle("text") is False
    assert rpc.handle({KEY: "request", "method": "echo"}) is True  # no id: nothing to answer
    assert rpc.handle({KEY: "bogus"}) is True
    assert rec.sent == []


def test_threaded_requests_run_in_order_off_the_callers_thread():
    seen: list[tuple[str, str]] = []

    def who(call):
        seen.append((call.id, threading.current_thread().name))
        return {}

    rec = Recorder()
    rpc = RpcServer({"who": who}, rec, name="test-rpc")
    for i in range(5):
        rpc.handle(request(f"r{i}", "who"))
    rec.wait(5)
    assert [i for i, _ in seen] == [f"r{i}" for i in range(5)]
    assert {t for _, t in seen} == {"test-rpc"}
    assert [c["id"] for c, _ in rec.sent] == [f"r{i}" for i in range(5)]
    rpc.close()


def test_cancelled_requests_still_queued_are_never_run():
    release = threading.Event()
    ran: list[str] = []

    def slow(call):
        ran.append(call.id)
        if call.id == "r0":
            release.wait(10)
        return {}

    rec = Recorder()
    rpc = RpcServer({"slow": slow}, rec)
    for i in range(4):
        rpc.handle(request(f"r{i}", "slow"))
    assert rpc.wait_idle(0.2) is False  # r0 is blocking the worker
    dropped = rpc.cancel(["r1", "r2", "unknown"])
    assert dropped == 2
    assert rpc.handle({KEY: "cancel", "ids": ["r3"]})
    release.set()
    assert rpc.wait_idle(10)
    assert ran == ["r0"]
    assert [c["id"] for c, _ in rec.sent] == ["r0"]
    assert rpc.stats["skipped"] == 3
    rpc.close()


def test_a_running_request_sees_its_cancellation_and_its_answer_is_not_sent():
    started = threading.Event()
    stopped_early = threading.Event()

    def long_page(call):
        if call.params.get("quick"):
            return {"done": True}
        started.set()
        for _ in range(500):
            if call.cancelled:
                stopped_early.set()
                raise RpcError("cancelled", "Cancelled")
            time.sleep(0.01)
        return {"done": True}

    rec = Recorder()
    rpc = RpcServer({"page": long_page}, rec)
    rpc.handle(request("p1", "page"))
    assert started.wait(5)
    rpc.handle({KEY: "cancel", "ids": ["p1"]})
    assert stopped_early.wait(5)
    assert rpc.wait_idle(5)
    rpc.handle(request("p2", "page", {"quick": True}))  # the worker goes on
    rec.wait(1)
    assert [c["id"] for c, _ in rec.sent] == ["p2"]  # p1 was never answered
    rpc.close()


def test_a_failing_send_does_not_kill_the_worker():
    calls = {"n": 0}
    rec = Recorder()

    def flaky(content, buffers):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("comm closed")
        rec(content, buffers)

    rpc = RpcServer({"echo": echo}, flaky)
    rpc.handle(request("a"))
    rpc.handle(request("b"))
    rec.wait(1)
    assert [c["id"] for c, _ in rec.sent] == ["b"]
    rpc.close()


def test_a_full_queue_drops_the_oldest_with_an_error():
    release = threading.Event()
    rec = Recorder()
    rpc = RpcServer({"slow": lambda c: release.wait(10) and {}}, rec, max_queue=2)
    rpc.handle(request("r0", "slow"))
    time.sleep(0.05)  # r0 running
    for i in (1, 2, 3):
        rpc.handle(request(f"r{i}", "slow"))
    errors = [c for c, _ in rec.sent if not c["ok"]]
    assert [c["id"] for c in errors] == ["r1"]
    assert errors[0]["error"]["type"] == "Overloaded"
    release.set()
    rec.wait(4)
    assert {c["id"] for c, _ in rec.sent} == {"r0", "r1", "r2", "r3"}
    rpc.close()


def test_close_stops_the_worker():
    rec = Recorder()
    rpc = RpcServer({"echo": echo}, rec)
    rpc.handle(request("a"))
    rec.wait(1)
    thread = rpc._thread
    rpc.close()
    thread.join(5)
    assert not thread.is_alive()
    rpc.handle(request("b"))  # after close: ignored
    time.sleep(0.05)
    assert len(rec.sent) == 1


@pytest.mark.parametrize("threaded", [False, True])
def test_memoryview_buffers_from_the_browser(threaded):
    rec = Recorder()
    rpc = RpcServer({"echo": echo}, rec, threaded=threaded)
    rpc.handle(request("m"), [memoryview(b"abc"), bytearray(b"d")])
    content, _ = rec.wait(1)[0]
    assert content["result"]["n_buffers"] == 2
    rpc.close()
