"""Embeddings from any ``torch.nn.Module``: the output or a named layer (forward hook), batched
through a DataLoader in eval mode without gradients, stored as float32, cached on disk."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._optional import require
from ..core import validation as v
from . import _cache, _dask_embed
from ._forward import POOLS, check_finite, crop, features, resolve_device, stop_hook
from ._store import DEFAULT_NAME, Embeddings, _check_level, store_of
from ._transform import default_transform, input_channels

if TYPE_CHECKING:
    from ..core import DatasetCore


class _Items:
    """A map-style torch dataset of transformed images (whole samples or box crops)."""

    def __init__(
        self,
        ds: DatasetCore,
        sample_ids: Sequence[Hashable],
        boxes: np.ndarray | None,
        transform: Callable[[Any], Any],
        padding: float,
    ):
        self.ds = ds
        self.sample_ids = list(sample_ids)
        self.boxes = boxes
        self.transform = transform
        self.padding = padding
        self._last: tuple[Hashable, Any] | None = None

    def __len__(self) -> int:
        return len(self.sample_ids)

    def _image(self, sid: Hashable) -> Any:
        if self._last is not None and self._last[0] == sid:
            return self._last[1]
        img = self.ds.image(sid)
        self._last = (sid, img)
        return img

    def __getitem__(self, i: int) -> Any:
        img = self._image(self.sample_ids[i])
        if self.boxes is not None:
            img = crop(img, self.boxes[i], self.padding)
        return self.transform(img)


def _rows(
    ds: DatasetCore, level: str, ids: Sequence[Hashable] | None, source: str
) -> tuple[pd.Index, list[Hashable], np.ndarray | None]:
    """Row ids, the sample id of each row, and (object level) the boxes."""
    if level == "sample":
        index = ds.samples.index if ids is None else pd.Index(list(ids))
        v.check_known_ids(index, ds.samples.index, "sample")
        return index, list(index), None
    objects = ds.objects
    if ids is None:
        objects = objects[objects["source"] == source]
        if not len(objects):
            sources = sorted(ds.objects["source"].unique())
            raise ValueError(f"no objects with source {source!r} to embed; sources are {sources}")
    else:
        v.check_known_ids(ids, objects.index, "object")
        objects = objects.loc[list(ids)]
    boxes = objects[["x", "y", "w", "h"]].to_numpy(dtype=float)
    return objects.index, list(objects["sample_id"]), boxes


def embed(
    ds: DatasetCore,
    model: Any,
    layer: str | None = None,
    transform: Callable[[Any], Any] | None = None,
    batch_size: int = 64,
    device: Any = "auto",
    *,
    level: str = "sample",
    name: str = DEFAULT_NAME,
    ids: Sequence[Hashable] | None = None,
    image_size: int | tuple[int, int] | None = 224,
    pool: str = "avg",
    source: str = "gt",
    padding: float = 0.0,
    num_workers: int = 0,
    cache: bool | str | os.PathLike[str] = True,
    progress: bool = True,
    client: Any = None,
) -> Embeddings:
    """Compute embeddings of the dataset's images (or box crops) with a torch model.

    The model runs in eval mode under ``torch.no_grad()``, batched through a
    ``torch.utils.data.DataLoader``; its training mode and device are restored afterwards.
    With ``layer``, a forward hook takes that module's output and the rest of the forward pass
    is skipped. The result (float32) is stored on the dataset (``ds`` embeddings ``name``, the
    default for projections, neighbours and label issues) and returned.

    Parameters
    ----------
    ds : nbdiag.Dataset
    model : torch.nn.Module
        Any module taking a batch of images ``(B, C, H, W)``.
    layer : str, optional
        Name of a sub-module (as in ``model.named_modules()``, e.g. ``"avgpool"`` or
        ``"layer4.1"``) whose output is the embedding. Default: the model's output.
    transform : callable, optional
        PIL image -> tensor ``(C, H, W)``. Default: :func:`default_transform` with
        ``image_size``, as many channels as the model's first ``Conv2d`` takes (else 3) and
        ImageNet normalisation.
    batch_size : int, default 64
    device : "auto", str or torch.device
        ``"auto"`` picks CUDA, then MPS, then CPU.
    level : {"sample", "object"}
        ``"object"`` embeds box crops of ``ds.objects`` (ground truth, or ``source``).
    name : str, default "default"
        Key of the stored embeddings; several can be kept side by side.
    ids : sequence, optional
        Embed only these samples (or objects).
    image_size : int or (height, width), default 224
        Size the default transform resizes to (ignored with ``transform``).
    pool : {"avg", "max", "first", "flatten"}
        How outputs with spatial or token axes become vectors: average or max over them, the
        first position (e.g. a ViT's class token), or flatten.
    source : str, default "gt"
        Which boxes to crop at ``level="object"``: ``"gt"`` or a detection run's name.
    padding : float, default 0.0
        Grow each crop by this fraction of the box's width/height on every side.
    num_workers : int, default 0
        DataLoader worker processes (0 loads in the kernel process, safest in notebooks).
    cache : bool or path, default True
        Reuse embeddings computed before for the same model weights, layer, pooling, transform
        and data (ids and image content, or file path, size and modification time). ``True``
        uses ``$NBDIAG_CACHE_DIR`` or ``~/.cache/nbdiag``; a path uses that folder; ``False``
        disables it.
    progress : bool, default True
        Show a tqdm progress bar.
    client : dask.distributed.Client, optional
        Run the batches on this Dask cluster (extra ``nbdiag[dask]``): the model is sent once
        to every worker, each batch goes to a worker as image file paths (read there, so they
        must be readable by the workers) or, for in-memory images, the arrays themselves; the
        vectors come back in id order, the same as without ``client``. ``device`` is resolved
        on each worker; ``num_workers`` is not used.

    Returns
    -------
    Embeddings
        ``.vectors`` ``(n, dim)`` float32 and ``.ids``; ``.meta["cached"]`` tells whether they
        came from the cache.
    """
    torch = require("torch", "computing embeddings")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if client is not None:
        _dask_embed.check_client(client, "computing embeddings on a Dask cluster")
    _check_level(level)
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    modules = dict(model.named_modules())
    if layer is not None and layer not in modules:
        close = [n for n in modules if n and layer.split(".")[-1] in n][:8]
        raise ValueError(
            f"model has no layer {layer!r}"
            + (f"; similar names: {close}" if close else f"; layers are {list(modules)[1:20]}")
        )
    if transform is None:
        transform = default_transform(image_size, channels=input_channels(model))
    index, sample_ids, boxes = _rows(ds, level, ids, source)
    meta: dict[str, Any] = {
        "model": f"{type(model).__module__}.{type(model).__qualname__}",
        "layer": layer,
        "pool": pool,
        "transform": repr(transform),
        "level": level,
        "source": source if level == "object" else None,
    }

    cache_dir = _cache.resolve_cache_dir(cache)
    key = None
    if cache_dir is not None:
        h = _cache.Hasher()
        h.update("version", _cache.CACHE_VERSION)
        _cache.hash_model(model, h)
        h.update("layer", repr(layer)).update("pool", pool).update("level", level)
        h.update("transform", _cache.fingerprint_callable(transform))
        h.update("padding", repr(float(padding)))
        h.update("rows", repr(list(index)))
        _cache.hash_data(ds, dict.fromkeys(sample_ids), h)
        if boxes is not None:
            h.array("boxes", boxes)
        key = h.hexdigest()
        hit = _cache.load(cache_dir, key, len(index))
        if hit is not None:
            meta.update(cached=True, cache_key=key, seconds=0.0)
            emb = Embeddings(index, hit, level=level, name=name, meta=meta)
            return store_of(ds).put(emb)

    start = time.perf_counter()
    desc = f"nbdiag: embedding {len(index)} {level}s"
    if client is not None:
        vectors = _dask_embed.run(
            client,
            model,
            _dask_embed.sources(ds, sample_ids),
            boxes,
            transform,
            padding,
            layer=layer,
            batch_size=int(batch_size),
            device=device,
            pool=pool,
            progress=progress,
            desc=desc,
        )
        check_finite(vectors, sample_ids)
        meta["dask_workers"] = _dask_embed.n_workers(client)
    else:
        vectors = _run(
            model,
            _Items(ds, sample_ids, boxes, transform, padding),
            modules[layer] if layer is not None else None,
            batch_size=int(batch_size),
            device=resolve_device(device),
            pool=pool,
            num_workers=num_workers,
            progress=progress,
            desc=desc,
        )
    meta.update(cached=False, cache_key=key, seconds=time.perf_counter() - start)
    if key is not None:
        _cache.save(cache_dir, key, vectors)
    emb = Embeddings(index, vectors, level=level, name=name, meta=meta)
    return store_of(ds).put(emb)


def _run(
    model: Any,
    items: _Items,
    hooked: Any,
    *,
    batch_size: int,
    device: Any,
    pool: str,
    num_workers: int,
    progress: bool,
    desc: str,
) -> np.ndarray:
    torch = require("torch", "embeddings from torch models")
    DataLoader = require("torch.utils.data").DataLoader
    from tqdm.auto import tqdm

    loader = DataLoader(
        items,  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    params = next(iter(model.parameters()), None)
    old_device = params.device if params is not None else None
    was_training = model.training
    captured: list[Any] = []
    handle = hooked.register_forward_hook(stop_hook(captured)) if hooked is not None else None
    out: np.ndarray | None = None
    pos = 0
    try:
        if old_device is not None and old_device != device:
            model.to(device)
        model.eval()
        with (
            torch.no_grad(),
            tqdm(total=len(items), desc=desc, unit="img", disable=not progress, leave=False) as bar,
        ):
            for batch in loader:
                x = batch.to(device, non_blocking=True)
                feats = features(model, x, hooked, captured, pool, torch)
                if out is None:
                    out = np.empty((len(items), feats.shape[1]), dtype=np.float32)
                out[pos : pos + len(feats)] = feats
                pos += len(feats)
                bar.update(len(feats))
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)
        if old_device is not None and old_device != device:
            model.to(old_device)
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    check_finite(out, items.sample_ids)
    return out
