""":func:`~nbdiag.embeddings.embed` on a ``dask.distributed`` cluster.

What travels: the model and the transform once per worker (broadcast); for each batch, the row
number it starts at, each row's image source -- a file path (read by the worker) or the
in-memory array (sent with its batch) -- and at object level the boxes. Each worker opens,
crops and transforms the batch's images, runs the same forward pass as the in-process loop
(:func:`._forward.features`) and sends back ``(B, D)`` float32 vectors, which are written into
place in id order. One task runs several consecutive batches (up to 16, while every worker
still gets 8 tasks), so the scheduler's round trip is not paid per batch of 64 small images. A row whose image cannot be opened fails the call with the same error as in
process: the first such row in id order wins, whatever order the batches finish in.
"""

from __future__ import annotations

import copy
import os
import pickle
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import require
from ..core import validation as v
from ..core._tables import missing
from ..core.images import ImageLoadError, array_to_image, load_image
from ._dask import check_client, n_workers
from ._forward import crop, features, resolve_device, stop_hook

if TYPE_CHECKING:
    from ..core import DatasetCore

__all__ = ["check_client", "n_workers", "run", "sources"]

#: tasks submitted ahead per worker (keeps workers busy without queueing the whole dataset)
IN_FLIGHT_PER_WORKER = 4
#: at most this many batches go in one task: a task costs a scheduler round trip (milliseconds),
#: which small models on small images would otherwise pay per batch of 64
MAX_BATCHES_PER_TASK = 16
#: ... while each worker still gets at least this many tasks (balance, progress, cancellation)
MIN_TASKS_PER_WORKER = 8

#: a batch whose in-memory images hold more bytes than this is scattered to a worker first
#: (smaller ones travel inside the task, saving a round trip per batch)
SCATTER_BYTES = 4 << 20

#: one model on a worker runs one batch at a time (the layer hook and device are per model)
_MODEL_LOCK = threading.Lock()


class _Boxed:
    """The model for the trip. Dask pickles this plain object (falling back to cloudpickle,
    so classes defined in a notebook travel by value); its own serialiser for
    ``torch.nn.Module`` would lose module internals (hook dicts come back as plain dicts). A
    worker runs its own copy, so that even on an in-process cluster (``processes=False``,
    where nothing is pickled) the caller's model is never put in eval mode or moved."""

    def __init__(self, obj: Any):
        self.obj = obj
        self._own: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # a worker may pass its data on to another one after running its copy
        return {"obj": self.obj if self.obj is not None else self._own, "_own": None}

    def get(self) -> Any:
        """The worker's copy (call under ``_MODEL_LOCK``)."""
        if self._own is None:
            self._own, self.obj = copy.deepcopy(self.obj), None
        return self._own


class _InMemory:
    """A row whose image is in memory: its array is read when its batch is sent (a lazy
    image mapping is not loaded whole up front)."""

    __slots__ = ("images", "sid")

    def __init__(self, images: Any, sid: Hashable):
        self.images, self.sid = images, sid


def sources(ds: DatasetCore, sample_ids: Sequence[Hashable]) -> list[Any]:
    """What a worker needs to open each row's image, decided as ``ds.image`` decides: the
    in-memory image (read when its batch is sent), else the file path, else (neither) the
    ValueError ``ds.image`` raises. Rows of the same sample share one object (one array per
    batch)."""
    images = getattr(ds, "_images", {}) or {}
    samples = ds.samples
    paths = samples["path"].to_numpy(dtype=object) if "path" in samples.columns else None
    pos = samples.index.get_indexer(list(sample_ids))
    seen: dict[Hashable, Any] = {}
    out: list[Any] = []
    for sid, p in zip(sample_ids, pos, strict=True):
        src = seen.get(sid)
        if src is None:
            if sid in images:
                src = _InMemory(images, sid)
            elif paths is None or missing(paths[p]):
                src = ValueError(
                    f"sample {v.show(sid)} has neither an image file nor an in-memory image"
                )
            else:
                src = os.fspath(paths[p])
            seen[sid] = src
        out.append(src)
    return out


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (to travel back from the worker), else a RuntimeError
    with its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _embed_batch(
    boxed: _Boxed,
    transform: Callable[[Any], Any],
    start: int,
    srcs: Sequence[Any],
    boxes: np.ndarray | None,
    padding: float,
    layer: str | None,
    pool: str,
    device: Any,
) -> tuple[str, Any, Any]:
    """On a worker: ``("ok", vectors, None)``, or the first failing row's error as
    ``("image", row, (path, reason, detail))`` / ``("error", row, exception)``."""
    torch = require("torch", "computing embeddings")
    collate = require("torch.utils.data").default_collate
    tensors = []
    last: tuple[Any, Any] = (None, None)
    for j, src in enumerate(srcs):
        try:
            if isinstance(src, Exception):
                raise src
            if src is last[0]:
                img = last[1]
            else:
                img = array_to_image(src) if isinstance(src, np.ndarray) else load_image(src)
                last = (src, img)
            if boxes is not None:
                img = crop(img, boxes[j], padding)
            tensors.append(transform(img))
        except ImageLoadError as exc:
            return ("image", start + j, (exc.path, exc.reason, exc.detail))
        except Exception as exc:
            return ("error", start + j, _portable(exc))
    try:
        x = collate(tensors)
        with _MODEL_LOCK, torch.no_grad():
            model = boxed.get()
            dev = resolve_device(device)
            params = next(iter(model.parameters()), None)
            if params is not None and params.device != dev:
                model.to(dev)
            model.eval()
            hooked = dict(model.named_modules())[layer] if layer is not None else None
            captured: list[Any] = []
            handle = hooked.register_forward_hook(stop_hook(captured)) if hooked else None
            try:
                feats = features(model, x.to(dev), hooked, captured, pool, torch)
            finally:
                if handle is not None:
                    handle.remove()
    except Exception as exc:
        return ("error", start, _portable(exc))
    return ("ok", feats, None)


def _embed_batches(
    boxed: _Boxed,
    transform: Callable[[Any], Any],
    start: int,
    srcs: Sequence[Any],
    boxes: np.ndarray | None,
    batch_size: int,
    *args: Any,
) -> tuple[str, Any, Any]:
    """On a worker: consecutive batches of ``batch_size`` rows (each collated and run on its
    own, exactly as in process), the first failure returned as :func:`_embed_batch` does."""
    parts = []
    for s in range(0, len(srcs), batch_size):
        sub = None if boxes is None else boxes[s : s + batch_size]
        result = _embed_batch(boxed, transform, start + s, srcs[s : s + batch_size], sub, *args)
        if result[0] != "ok":
            return result
        parts.append(result[1])
    return ("ok", parts[0] if len(parts) == 1 else np.concatenate(parts), None)


def batches_per_task(n_batches: int, workers: int) -> int:
    """How many batches one task runs: enough to amortise the task's round trip, few enough
    that every worker gets ``MIN_TASKS_PER_WORKER`` tasks."""
    wanted = -(-n_batches // (max(1, workers) * MIN_TASKS_PER_WORKER))
    return max(1, min(MAX_BATCHES_PER_TASK, wanted))


def _ship(client: Any, model: Any, transform: Any) -> list[Any]:
    """Broadcast the model (its CPU copy: workers move it to their device) and the transform."""
    params = next(iter(model.parameters()), None)
    old = params.device if params is not None else None
    moved = old is not None and old.type != "cpu"
    if moved:
        model.to("cpu")
    try:
        return client.scatter([_Boxed(model), transform], broadcast=True, hash=False)
    finally:
        if moved:
            model.to(old)


def run(
    client: Any,
    model: Any,
    srcs: Sequence[Any],
    boxes: np.ndarray | None,
    transform: Callable[[Any], Any],
    padding: float,
    *,
    layer: str | None,
    batch_size: int,
    device: Any,
    pool: str,
    progress: bool,
    desc: str,
) -> np.ndarray:
    """The ``(n, D)`` float32 embeddings of the rows whose image sources are ``srcs``
    (from :func:`sources`), computed in batches of ``batch_size`` on the cluster (not yet
    checked for NaN/inf: :func:`embed` does, as for the in-process run)."""
    distributed = check_client(client, "computing embeddings on a Dask cluster")
    from tqdm.auto import tqdm

    n = len(srcs)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    workers = n_workers(client)
    task_rows = batch_size * batches_per_task(-(-n // batch_size), workers)
    n_tasks = -(-n // task_rows)
    remote_model, remote_transform = _ship(client, model, transform)
    window = workers * IN_FLIGHT_PER_WORKER
    inflight: dict[str, tuple[int, Any]] = {}
    pending = distributed.as_completed()
    out: np.ndarray | None = None
    failed: tuple[int, tuple[str, Any, Any]] | None = None
    submitted = 0

    def submit() -> None:
        nonlocal submitted
        s = submitted * task_rows
        batch: Any = list(srcs[s : s + task_rows])
        arrays: dict[int, np.ndarray] = {}
        for x in batch:
            if isinstance(x, _InMemory) and id(x) not in arrays:
                arrays[id(x)] = np.asarray(x.images[x.sid])
        if arrays:
            batch = [arrays.get(id(x), x) for x in batch]
            if sum(a.nbytes for a in arrays.values()) > SCATTER_BYTES:
                [batch] = client.scatter([batch], hash=False)  # straight to a worker
        fut = client.submit(
            _embed_batches,
            remote_model,
            remote_transform,
            s,
            batch,
            None if boxes is None else boxes[s : s + task_rows],
            batch_size,
            padding,
            layer,
            pool,
            device,
            pure=False,
        )
        inflight[fut.key] = (submitted, fut)
        pending.add(fut)
        submitted += 1

    try:
        while submitted < min(n_tasks, window):
            submit()
        with tqdm(total=n, desc=desc, unit="img", disable=not progress, leave=False) as bar:
            for fut in pending:
                if fut.key not in inflight:  # cancelled after an earlier batch failed
                    continue
                b, _ = inflight.pop(fut.key)
                result = fut.result()
                if result[0] == "ok":
                    feats = result[1]
                    if out is None:
                        out = np.empty((n, feats.shape[1]), dtype=np.float32)
                    s = b * task_rows
                    out[s : s + len(feats)] = feats
                    bar.update(len(feats))
                elif failed is None or b < failed[0]:
                    failed = (b, result)
                    later = [k for k, (bb, _) in inflight.items() if bb > b]
                    client.cancel([inflight.pop(k)[1] for k in later])
                if failed is None and submitted < n_tasks:
                    submit()
    finally:
        client.cancel([f for _, f in inflight.values()] + [remote_model, remote_transform])
    if failed is not None:
        kind, _row, payload = failed[1]
        if kind == "image":
            raise ImageLoadError(*payload)
        raise payload
    assert out is not None
    return out
