"""Thumbnails: reduced-scale decoding, the on-disk cache in front of it, parallel pre-generation.

Real image files written with Pillow; the oracle for a thumbnail is Pillow decoding the whole
file and resizing it (``encode_thumbnail(load_image(path))``, the old code path).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag
from nbdiag.core.images import ImageLoadError, encode_thumbnail, load_image
from nbdiag.core.thumbnails import (
    ThumbnailStore,
    configure_thumbnail_cache,
    decode_thumbnail_source,
    make_thumbnails,
    render_thumbnail,
    thumbnail_file,
    thumbnail_store,
)


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    """Every test caches into its own directory; the process-wide setting is restored."""
    monkeypatch.setenv("NBDIAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NBDIAG_THUMBNAIL_CACHE", raising=False)
    configure_thumbnail_cache(None)
    yield thumbnail_store()
    configure_thumbnail_cache(None)


def photo(w: int, h: int, seed: int = 0) -> np.ndarray:
    """Smooth colour waves plus a few edges: what a downscaled photo looks like."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            128 + 90 * np.sin(xx / (w / 5) + rng.uniform(0, 6)),
            128 + 90 * np.cos(yy / (h / 4) + rng.uniform(0, 6)),
            128 + 60 * np.sin((xx + yy) / (w / 3)),
        ],
        axis=2,
    )
    base[h // 3 : h // 2, w // 4 : w // 2] = rng.integers(0, 256, 3)
    return np.uint8(np.clip(base, 0, 255))


def write(path: Path, arr: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kwargs)
    return path


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float64)


def cached_files(store: ThumbnailStore) -> list[Path]:
    return store.files()


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [("big.jpg", (1600, 1200), (128, 96)), ("big.png", (1000, 1400), (91, 128))],
)
def test_reduced_decode_matches_the_full_decode(tmp_path, name, size, expected):
    path = write(tmp_path / name, photo(*size), **({"quality": 92} if name.endswith("jpg") else {}))
    img, full = decode_thumbnail_source(path, 128)
    assert full == size
    assert 256 <= max(img.size) < 1024  # decoded (or reduced) to at least twice the target
    fast = render_thumbnail(path, 128)
    oracle = encode_thumbnail(load_image(path), size=128)
    a, b = pixels(fast), pixels(oracle)
    assert a.shape == b.shape == (expected[1], expected[0], 3)
    assert np.abs(a - b).mean() < 2.0  # levels of 255: the same picture


def test_exif_rotation_and_small_images(tmp_path, make_image):
    rotated = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: stored 1200 x 800, shown 800 x 1200
    Image.fromarray(photo(1200, 800)).save(rotated, exif=exif, quality=90)
    with Image.open(io.BytesIO(render_thumbnail(rotated, 120))) as t:
        assert t.size == (80, 120)
    tiny = make_image(tmp_path / "tiny.png", (8, 6))
    with Image.open(io.BytesIO(render_thumbnail(tiny, 64))) as t:
        assert t.size == (64, 48)  # enlarged with nearest-neighbour, as before


def test_disk_cache_hit_does_not_decode(tmp_path, store):
    path = write(tmp_path / "a.jpg", photo(900, 600), quality=90)
    ds = nbdiag.Dataset(pd.DataFrame({"path": [str(path)]}))
    first = ds.thumbnail(0)
    files = cached_files(store)
    assert len(files) == 1 and files[0].read_bytes() == first
    # same size and mtime but garbage content: only a cache hit can still give the thumbnail
    st = os.stat(path)
    path.write_bytes(b"\0" * st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    fresh = nbdiag.Dataset(pd.DataFrame({"path": [str(path)]}))  # empty in-memory LRU
    assert fresh.thumbnail(0) == first
    with pytest.raises(ImageLoadError):
        render_thumbnail(path, 128)  # ... which a decode could not


def test_memory_lru_is_in_front_of_the_disk(tmp_path, store):
    path = write(tmp_path / "a.png", photo(300, 200))
    ds = nbdiag.Dataset(pd.DataFrame({"path": [str(path)]}))
    first = ds.thumbnail(0, 64)
    store.clear()
    path.unlink()
    assert ds.thumbnail(0, 64) == first  # from memory, neither disk nor file needed
    assert ds._thumbs.hits == 1


def test_a_changed_file_is_thumbnailed_again(tmp_path, store):
    path = write(tmp_path / "a.jpg", photo(800, 600, seed=1), quality=90)
    old = thumbnail_file(path, 128)
    write(path, photo(800, 600, seed=2)[::-1].copy(), quality=90)  # new content and mtime
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    new = thumbnail_file(path, 128)
    assert new != old
    assert new == render_thumbnail(path, 128)
    assert len(cached_files(store)) == 2  # the old entry ages out with the bound
    # size and format are part of the key
    assert thumbnail_file(path, 64) != new
    assert thumbnail_file(path, 128, "PNG")[:4] == b"\x89PNG"
    assert len(cached_files(store)) == 4


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("corrupt", "corrupt_image"), ("truncated", "truncated_image"), ("missing", "missing_file")],
)
def test_bad_files_raise_for_one_thumbnail(bad_images, kind, reason, store):
    ds = nbdiag.Dataset(pd.DataFrame({"path": [str(bad_images[kind])]}))
    with pytest.raises(ImageLoadError) as err:
        ds.thumbnail(0)
    assert err.value.reason == reason
    assert cached_files(store) == []  # failures are not cached


def test_make_thumbnails_records_problems_and_fills_the_cache(tmp_path, bad_images, store):
    good = [write(tmp_path / f"g{i}.jpg", photo(700, 500, seed=i), quality=88) for i in range(4)]
    paths = [*map(str, good), *(str(bad_images[k]) for k in ("corrupt", "truncated", "missing"))]
    ds = nbdiag.Dataset(pd.DataFrame({"path": paths}, index=[f"s{i}" for i in range(7)]))
    problems = make_thumbnails(ds, size=96, workers=1, progress=False)
    assert problems[["id", "issue"]].values.tolist() == [
        ["s4", "corrupt_image"],
        ["s5", "truncated_image"],
        ["s6", "missing_file"],
    ]
    assert problems.attrs["thumbnails"] == {
        "images": 7,
        "cached": 0,
        "made": 4,
        "failed": 3,
        "in_memory": 0,
    }
    assert len(cached_files(store)) == 4
    for i, p in enumerate(good):
        assert ds.thumbnail(f"s{i}", 96) == render_thumbnail(p, 96)
    again = make_thumbnails(ds, ["s0", "s1"], size=96, workers=1, progress=False)
    assert again.empty and again.attrs["thumbnails"]["cached"] == 2


def test_in_memory_images_are_not_cached_on_disk(store):
    arrays = {"a": photo(64, 48), "b": photo(40, 40, seed=3)}
    ds = nbdiag.Dataset(pd.DataFrame(index=list(arrays)), images=arrays)
    assert ds.thumbnail("a", 32) == encode_thumbnail(Image.fromarray(arrays["a"]), size=32)
    out = make_thumbnails(ds, size=32, workers=1, progress=False)
    assert out.attrs["thumbnails"]["in_memory"] == 2
    assert cached_files(store) == []


def test_the_disk_cache_can_be_disabled(tmp_path, monkeypatch):
    path = write(tmp_path / "a.png", photo(200, 100))
    configure_thumbnail_cache(False)
    assert thumbnail_file(path) == render_thumbnail(path)
    configure_thumbnail_cache(None)
    monkeypatch.setenv("NBDIAG_THUMBNAIL_CACHE", "0")
    assert not thumbnail_store().enabled
    ds = nbdiag.Dataset(pd.DataFrame({"path": [str(path)]}))
    assert ds.thumbnail(0)  # still works, from the file
    assert not (tmp_path / "cache" / "thumbnails").exists()
    with pytest.raises(ValueError, match="disabled"):
        make_thumbnails(ds, progress=False)


def test_the_disk_cache_is_bounded(tmp_path):
    store = ThumbnailStore(tmp_path / "bounded", max_bytes=10_000)
    for i in range(30):
        store.put(f"{i:02d}" + "0" * 38, "webp", bytes(1000))
        os.utime(store._file(f"{i:02d}" + "0" * 38, "webp"), ns=(i * 10**9, i * 10**9))
    store.prune()
    kept = sorted(p.name[:2] for p in store.files())
    assert store.nbytes() <= 9_000
    assert kept == [f"{i:02d}" for i in range(30 - len(kept), 30)]  # the newest survive


def test_local_workers_and_dask_processes_give_the_same_bytes(tmp_path, store):
    distributed = pytest.importorskip("distributed")
    paths = [
        str(write(tmp_path / f"p{i}.jpg", photo(640, 480, seed=i), quality=90)) for i in range(8)
    ]
    paths.append(str(tmp_path / "missing.jpg"))
    ds = nbdiag.Dataset(pd.DataFrame({"path": paths}))
    expected = [render_thumbnail(p, 128) for p in paths[:-1]]

    local = make_thumbnails(ds, workers=2, progress=False)
    assert local[["id", "issue"]].values.tolist() == [[8, "missing_file"]]
    assert [thumbnail_file(p) for p in paths[:-1]] == expected

    configure_thumbnail_cache(tmp_path / "dask-cache")
    with (
        distributed.LocalCluster(
            processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = make_thumbnails(ds, client=client, progress=False)
    assert remote[["id", "issue"]].values.tolist() == [[8, "missing_file"]]
    assert remote.attrs["thumbnails"]["made"] == 8
    dask_store = thumbnail_store()
    assert len(dask_store.files()) == 8
    # read back from the cache the workers wrote: byte-identical to the local thumbnails
    assert [dask_store.get(dask_store.key(p, 128, "WEBP"), "WEBP") for p in paths[:-1]] == expected


def test_make_thumbnails_from_the_dataset_records_what_cannot_be_decoded(bad_images):
    import pandas as pd

    import nbdiag

    samples = pd.DataFrame({"path": [str(p) for p in bad_images.values()]}, index=list(bad_images))
    ds = nbdiag.Dataset.from_dataframe(samples, probe_images="header")
    assert ds.samples.loc["truncated", "issues"] == ""  # a header does not show it
    problems = ds.make_thumbnails(workers=1, progress=False)
    assert set(problems["id"]) == {"corrupt", "truncated", "missing"}
    assert problems.set_index("id").loc["truncated", "issue"] == "truncated_image"
    assert ds.samples.loc["truncated", "issues"] == "truncated_image"
    assert ds.samples.loc["missing", "issues"] == "missing_file"  # once, not twice
    assert ds.samples.loc["good", "issues"] == ""
    assert problems.attrs["thumbnails"]["made"] == 1


def test_a_thumbnail_that_fails_in_a_view_is_recorded(bad_images):
    import pandas as pd

    import nbdiag
    from nbdiag.images import ImageLoadError

    samples = pd.DataFrame({"path": [str(bad_images["truncated"])]}, index=["t"])
    ds = nbdiag.Dataset.from_dataframe(samples, probe_images="header")
    with pytest.raises(ImageLoadError):
        ds.thumbnail("t")
    assert ds.samples.loc["t", "issues"] == "truncated_image"
