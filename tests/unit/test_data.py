"""helpers.data: registry, loaders on the real files, budgets, errors, download."""
from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from helpers import data


def test_registry_has_every_provided_file_with_md5_licence_and_citation():
    reg = data.registry()
    assert {"pneumoniamnist", "breastmnist", "retinamnist", "ecg200", "ecg5000", "mitdb100", "scipy_ecg"} <= set(reg)
    for name, info in reg.items():
        for key in ("title", "task", "licence", "citation", "files", "label_names", "positive_label"):
            assert key in info, f"{name} lacks {key}"
        for f in info["files"]:
            assert len(f["md5"]) == 32 and f["url"].startswith("https://"), (name, f)
    assert reg["breastmnist"]["positive_label"] == 0
    assert reg["breastmnist"]["label_names"][0] == "malignant"
    assert reg["ecg200"]["label_map"] == {"-1": 1, "1": 0}


def test_registry_md5s_match_sources_md(data_dir):
    sources = (data_dir / "SOURCES.md")
    if not sources.is_file():
        pytest.skip("no SOURCES.md beside the data")
    text = sources.read_text()
    for info in data.registry().values():
        for f in info["files"]:
            assert f["md5"] in text and f["path"] in text, f["path"]


@pytest.mark.parametrize("name,channels,sizes", [
    ("pneumoniamnist", 1, (4708, 524, 624)),
    ("breastmnist", 1, (546, 78, 156)),
    ("retinamnist", 3, (1080, 120, 400)),
])
def test_medmnist_follows_the_data_contract(data_dir, name, channels, sizes):
    ds = data.load_dataset(name)
    for split, n in zip(("train", "val", "test"), sizes):
        x, y = ds.splits[split]
        assert x.shape == (n, 28, 28, channels) and x.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
        assert y.shape == (n,) and y.dtype == np.int64
    assert ds.label_names == data.dataset_info(name)["label_names"]


def test_breastmnist_class_counts_and_positive_label(data_dir):
    ds = data.load_dataset("breastmnist")
    assert np.bincount(ds.train.y).tolist() == [147, 399]
    assert ds.positive_label == 0 and ds.label_names[ds.positive_label] == "malignant"


def test_ecg200_labels_are_mapped_to_mi_positive(data_dir):
    ds = data.load_dataset("ecg200")
    assert ds.train.x.shape == (100, 96, 1) and ds.test.x.shape == (100, 96, 1)
    # SOURCES.md: train -1/1 = 31/69 -> MI (1) 31, normal (0) 69.
    assert np.bincount(ds.train.y).tolist() == [69, 31]
    assert np.bincount(ds.test.y).tolist() == [64, 36]
    assert ds.label_names[ds.positive_label] == "myocardial infarction"
    with pytest.raises(KeyError, match="no official validation split"):
        ds.val


def test_ecg5000_keeps_official_codes(data_dir):
    ds = data.load_dataset("ecg5000")
    assert ds.train.x.shape == (500, 140, 1)
    assert np.bincount(ds.train.y).tolist() == [0, 292, 177, 10, 19, 2]


def test_mitdb_record_and_annotations(data_dir):
    rec = data.load_mitdb_record()
    assert rec.signal.shape == (650000, 2) and rec.fs == 360.0 and rec.lead_names == ["MLII", "V5"]
    symbols, counts = np.unique(rec.beat_symbols, return_counts=True)
    found = dict(zip(symbols.tolist(), counts.tolist()))
    assert found["N"] == 2239 and found["A"] == 33 and found["V"] == 1


def test_scipy_ecg_matches_scipy_docstring(data_dir):
    ecg, fs = data.load_scipy_ecg()
    assert ecg.shape == (108000,) and fs == 360.0
    assert abs(float(ecg.mean()) - (-0.16510875)) < 1e-6
    assert abs(float(ecg.std()) - 0.5992474) < 1e-6


def test_search_order_explicit_then_env_then_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "env"))
    roots = data.data_roots(tmp_path / "explicit")
    assert roots == [(tmp_path / "explicit").resolve(), (tmp_path / "env").resolve(), data.DEFAULT_DATA_DIR]


def test_explicit_folder_wins(data_dir, tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    (mine / "medmnist").mkdir(parents=True)
    shutil.copy(data_dir / "medmnist" / "breastmnist.npz", mine / "medmnist" / "breastmnist.npz")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "empty"))
    assert data.find_file("breastmnist", "medmnist/breastmnist.npz", mine) == mine / "medmnist" / "breastmnist.npz"


def test_missing_file_names_file_places_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "repo-datasets")
    with pytest.raises(data.DataFileMissingError) as err:
        data.load_dataset("breastmnist", data_dir=tmp_path / "explicit")
    msg = str(err.value)
    assert "medmnist/breastmnist.npz" in msg
    for place in ("explicit", "env", "repo-datasets"):
        assert str(tmp_path / place / "medmnist" / "breastmnist.npz") in msg
    assert "python -m helpers.data download breastmnist" in msg


def _fake_registry_file(tmp_path, monkeypatch, content: bytes, name="breastmnist"):
    root = tmp_path / "root"
    path = root / "medmnist" / "breastmnist.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    reg = data.registry()
    reg[name]["files"][0]["md5"] = hashlib.md5(content).hexdigest()
    monkeypatch.setattr(data, "registry", lambda: reg)
    return root


def test_corrupt_npz_gets_clear_error(tmp_path, monkeypatch):
    root = _fake_registry_file(tmp_path, monkeypatch, b"this is not a zip archive")
    with pytest.raises(data.DataFileCorruptError, match="(?s)not a zip archive.*download it again"):
        data.load_dataset("breastmnist", data_dir=root)


def test_truncated_npz_gets_clear_error(data_dir, tmp_path, monkeypatch):
    blob = (data_dir / "medmnist" / "breastmnist.npz").read_bytes()[:200_000]
    root = _fake_registry_file(tmp_path, monkeypatch, blob)
    with pytest.raises(data.DataFileCorruptError, match="breastmnist"):
        data.load_dataset("breastmnist", data_dir=root)


def test_wrong_md5_reports_expected_and_actual(data_dir, tmp_path):
    root = tmp_path / "root"
    (root / "medmnist").mkdir(parents=True)
    blob = bytearray((data_dir / "medmnist" / "breastmnist.npz").read_bytes())
    blob[-10] ^= 0xFF
    (root / "medmnist" / "breastmnist.npz").write_bytes(bytes(blob))
    with pytest.raises(data.ChecksumError) as err:
        data.load_dataset("breastmnist", data_dir=root)
    msg = str(err.value)
    assert "750601b1f35ba3300ea97c75c52ff8f6" in msg and hashlib.md5(blob).hexdigest() in msg
    assert "Delete it and download it again" in msg


def test_draw_labels_by_budget_is_stratified_seeded_exact_and_nested():
    """A budget of n labels: exactly n, each class its share (at least one), one draw per seed, nested in n."""
    y = np.repeat([0, 1], [55, 25])[np.random.default_rng(0).permutation(80)]  # ECG200's 80 training beats
    for n, want in [(10, [7, 3]), (20, [14, 6]), (50, [34, 16]), (80, [55, 25]), (2, [1, 1])]:
        idx = data.draw_labels(y, n, seed=3)
        assert len(idx) == n == len(np.unique(idx)) and np.all(np.diff(idx) > 0)
        assert np.bincount(y[idx]).tolist() == want, f"budget {n} is not stratified"
    a = data.draw_labels(y, 10, seed=3)
    assert np.array_equal(a, data.draw_labels(y, 10, seed=3)), "one seed, one draw"
    assert not np.array_equal(a, data.draw_labels(y, 10, seed=4)), "another seed draws other cases"
    assert not np.array_equal(a, data.draw_labels(y, 10, seed=3, stream=1)), "another stream draws other cases"
    assert set(a) <= set(data.draw_labels(y, 20, seed=3)) <= set(data.draw_labels(y, 50, seed=3)), "nested"
    assert np.array_equal(data.draw_labels(y, seed=0), np.arange(80)), "no size: every case"
    rare = np.array([0] * 3 + [1] * 97)
    assert np.bincount(rare[data.draw_labels(rare, 5, seed=0)]).tolist() == [1, 4], "every class keeps a case"
    for bad in (1, 81):
        with pytest.raises(ValueError, match="budget of"):
            data.draw_labels(y, bad, seed=0)


def test_draw_labels_by_fraction_keeps_the_share_of_every_class_and_nests():
    y = np.array([0] * 90 + [1] * 10 + [7] * 3)
    idx = data.draw_labels(y, fraction=0.1, seed=3)
    assert [int(np.sum(y[idx] == c)) for c in (0, 1, 7)] == [9, 1, 1]
    assert set(idx) <= set(data.draw_labels(y, fraction=0.5, seed=3)), "a smaller fraction is inside a larger one"
    assert not np.array_equal(data.draw_labels(y, fraction=0.5, seed=1), data.draw_labels(y, fraction=0.5, seed=2))
    with pytest.raises(ValueError, match="not both"):
        data.draw_labels(y, 5, fraction=0.1)
    with pytest.raises(ValueError, match="fraction must be"):
        data.draw_labels(y, fraction=1.5)


def test_label_splits_scale_validation_by_budget_or_fraction(data_dir):
    ds = data.load_dataset("breastmnist")
    train, val = data.label_splits(ds, fraction=0.25, seed=0)
    assert len(train.y) == round(0.25 * 147) + round(0.25 * 399)
    assert len(val.y) == round(0.25 * 21) + round(0.25 * 57)
    assert train.x.shape[1:] == (28, 28, 1)
    train, val = data.label_splits(ds, 20, seed=0)
    assert len(train.y) == 20 and len(val.y) == max(2, round(20 * len(ds.val.y) / len(ds.train.y)))
    again, _ = data.label_splits(ds, 20, seed=0)
    assert np.array_equal(train.x, again.x), "every method must get the same draw at the same seed"
    full, full_val = data.label_splits(ds, None, seed=1)
    assert len(full.y) == len(ds.train.y) and len(full_val.y) == len(ds.val.y)


def _serve(folder: Path):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_download_checks_md5_from_a_loopback_server(data_dir, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(data_dir / "medmnist" / "breastmnist.npz", served / "breastmnist.npz")
    (served / "bad.npz").write_bytes(b"not the file")
    server = _serve(served)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        reg = data.registry()
        reg["breastmnist"]["files"][0]["url"] = f"{base}/breastmnist.npz"
        monkeypatch.setattr(data, "registry", lambda: reg)
        paths = data.download("breastmnist", data_dir=tmp_path / "dl", progressbar=False)
        assert paths == [tmp_path / "dl" / "medmnist" / "breastmnist.npz"]
        assert data.load_dataset("breastmnist", data_dir=tmp_path / "dl").train.x.shape == (546, 28, 28, 1)
        reg["breastmnist"]["files"][0]["url"] = f"{base}/bad.npz"
        (tmp_path / "dl" / "medmnist" / "breastmnist.npz").unlink()
        with pytest.raises(data.ChecksumError, match="MD5"):
            data.download("breastmnist", data_dir=tmp_path / "dl", progressbar=False)
    finally:
        server.shutdown()


def test_cli_check_reports_every_file(data_dir, capsys):
    assert data._main(["check"]) == 0
    out = capsys.readouterr().out
    assert "medmnist/breastmnist.npz" in out and "ecg/mitdb/100.dat" in out


# ------------------------------------------------------------- dataset shift
def test_scanner_shift_keeps_shape_and_range():
    x = np.random.default_rng(4).random((5, 28, 28, 1)).astype(np.float32)
    s = data.scanner_shift(x, seed=0)
    assert s.shape == x.shape and s.dtype == np.float32 and s.min() >= 0 and s.max() <= 1
    assert not np.allclose(s, x)
