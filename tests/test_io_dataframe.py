"""from_dataframe: tables plus image files probed for size and problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.dataset import Dataset
from nbdiag.images import ImageLoadError
from nbdiag.io import from_dataframe


def test_paths_are_probed_for_size(make_image, tmp_path):
    make_image(tmp_path / "a.png", (40, 30))
    make_image(tmp_path / "sub" / "b.jpg", (12, 16), orientation=6)  # shown as 16 x 12
    samples = pd.DataFrame({"path": ["a.png", "sub/b.jpg"], "label": ["x", "y"]}, index=["a", "b"])
    ds = Dataset.from_dataframe(samples, root=tmp_path, name="t")
    assert ds.name == "t"
    assert ds.samples["width"].tolist() == [40.0, 16.0]
    assert ds.samples["height"].tolist() == [30.0, 12.0]
    assert ds.samples["issues"].tolist() == ["", ""]
    assert ds.samples.loc["a", "path"] == str(tmp_path / "a.png")  # stored absolute
    assert ds.image("b").size == (16, 12)


def test_bad_files_are_recorded_not_raised(bad_images):
    samples = pd.DataFrame({"path": [str(p) for p in bad_images.values()]}, index=list(bad_images))
    ds = from_dataframe(samples, probe_images=True)  # decode: truncated data is seen up front
    assert ds.samples["issues"].to_dict() == {
        "good": "",
        "corrupt": "corrupt_image",
        "truncated": "truncated_image",
        "missing": "missing_file",
    }
    assert ds.samples.loc["good", "width"] == 40.0
    assert np.isnan(ds.samples.loc["missing", "width"])
    assert ds.summary()["image_issues"] == 3
    assert "image issues</th><td>3" in ds._repr_html_()
    for kind in ("corrupt", "truncated", "missing"):
        with pytest.raises(ImageLoadError, match=bad_images[kind].name):
            ds.image(kind)
    assert ds.image("good").size == (40, 30)


def test_default_reads_headers_and_the_first_decoding_pass_records_the_rest(bad_images):
    samples = pd.DataFrame({"path": [str(p) for p in bad_images.values()]}, index=list(bad_images))
    ds = from_dataframe(samples)  # "auto": headers of a small table
    assert ds.samples["issues"].to_dict() == {
        "good": "",
        "corrupt": "corrupt_image",
        "truncated": "",
        "missing": "missing_file",
    }
    assert ds.samples.loc["truncated", "width"] > 0  # the header gave the size
    problems = ds.compute_metrics(["brightness"], cache_dir=False, progress=False)
    assert "truncated_image" in ds.samples.loc["truncated", "issues"]
    assert "truncated" in set(problems["id"])
    assert ds.samples.loc["good", "issues"] == ""


def test_existence_is_checked_by_listing_folders(tmp_path, make_image, monkeypatch):
    from nbdiag.io._probe import existing_files, probe_mode

    make_image(tmp_path / "a" / "x.png", (4, 4))
    make_image(tmp_path / "b.png", (4, 4))
    (tmp_path / "a" / "dir.png").mkdir()  # a folder named like an image is not a file
    monkeypatch.chdir(tmp_path)
    paths = [
        str(tmp_path / "a" / "x.png"),
        str(tmp_path / "a" / "y.png"),
        str(tmp_path / "a" / "dir.png"),
        str(tmp_path / "gone" / "z.png"),  # a folder that does not exist
        None,
        "b.png",  # relative to the working folder
        str(tmp_path / "b.png"),
    ]
    assert existing_files(paths).tolist() == [True, False, False, False, False, True, True]
    assert probe_mode("auto", 20_000) == "header" and probe_mode("auto", 20_001) == "exists"
    # a million absent files: flagged from one listing, each flagged once
    many = pd.DataFrame({"path": [f"{tmp_path}/gone/{i}.jpg" for i in range(200_000)]})
    ds = from_dataframe(many, progress=False)
    assert (ds.samples["issues"] == "missing_file").all()


def test_probe_modes(bad_images):
    samples = pd.DataFrame({"path": [str(p) for p in bad_images.values()]}, index=list(bad_images))
    header = from_dataframe(samples, probe_images="header").samples["issues"]
    assert header.to_dict() == {
        "good": "",
        "corrupt": "corrupt_image",
        "truncated": "",  # only a full decode sees it
        "missing": "missing_file",
    }
    exists = from_dataframe(samples, probe_images="exists").samples
    assert exists["issues"].tolist() == ["", "", "", "missing_file"]
    assert exists["width"].isna().all()
    off = from_dataframe(samples, probe_images=False).samples
    assert (off["issues"] == "").all()
    with pytest.raises(ValueError, match="got 'fast'"):
        from_dataframe(samples, probe_images="fast")


def test_given_sizes_are_kept_and_mismatches_flagged(make_image, tmp_path):
    path = make_image(tmp_path / "a.png", (40, 30))
    samples = pd.DataFrame(
        {"path": [str(path), str(path)], "width": [40, 30], "height": [30, np.nan]},
        index=["ok", "wrong"],
    )
    s = from_dataframe(samples).samples
    assert s.loc["ok", "issues"] == ""
    assert s.loc["wrong", "issues"] == "size_mismatch"
    assert s.loc["wrong", ["width", "height"]].tolist() == [30.0, 30.0]


def test_existing_issues_are_kept(bad_images):
    samples = pd.DataFrame(
        {"path": [str(bad_images["missing"])], "issues": ["blurry"]}, index=["m"]
    )
    assert from_dataframe(samples).samples.loc["m", "issues"] == "blurry,missing_file"


def test_many_files_use_the_thread_pool_and_progress(make_image, tmp_path, capsys):
    paths = [make_image(tmp_path / f"{i}.png", (8 + i % 3, 8), seed=i) for i in range(40)]
    samples = pd.DataFrame({"path": [str(p) for p in paths]})
    ds = from_dataframe(samples, progress=True)
    assert ds.samples["width"].tolist() == [8.0 + i % 3 for i in range(40)]
    assert "checking images" in capsys.readouterr().err


def test_objects_and_class_names(make_image, tmp_path):
    path = make_image(tmp_path / "a.png", (40, 30))
    objects = pd.DataFrame(
        {"sample_id": ["a"], "label": [1], "x": [0], "y": [0], "w": [40], "h": [30]}
    )
    ds = from_dataframe(pd.DataFrame({"path": [str(path)]}, index=["a"]), objects, ["car", "bus"])
    assert ds.objects["label"].tolist() == ["bus"]
    wide = objects.assign(w=[45])  # 5 px outside the probed 40 px width
    with pytest.raises(ValueError, match="boxes outside their image: 0"):
        from_dataframe(pd.DataFrame({"path": [str(path)]}, index=["a"]), wide, ["car", "bus"])


def test_without_paths():
    ds = nbdiag.Dataset.from_dataframe(pd.DataFrame({"label": ["a", "b"]}))
    assert ds.samples["path"].isna().all()
    with pytest.raises(TypeError, match="samples must be a pandas DataFrame"):
        from_dataframe({"label": ["a"]})  # type: ignore[arg-type]
