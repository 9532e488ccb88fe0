"""Corpus storage (thuman_io.corpus): round trip, determinism, atomicity, splits, torch dataset."""
import hashlib
import multiprocessing as mp

import h5py
import numpy as np
import pytest

from thuman_io import SMALL_GRID, CorpusSample, SchemaError
from thuman_io.corpus import CorpusWriter, TorchCorpusDataset, open_corpus


def make_sample(rng, grid=SMALL_GRID, subject="s0", view=0):
    h2, w2 = grid.normal_map_shape
    n = rng.normal(size=(h2, w2, 3)).astype(np.float32)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    occ = rng.random(grid.shape) < 0.3
    return CorpusSample(
        rgb=rng.integers(0, 256, (h2, w2, 3), dtype=np.uint8),
        semantic_map=rng.random((h2, w2, 3)).astype(np.float32),
        normal_map=n, mask=rng.random((h2, w2)) < 0.5, occupancy=occ,
        semantic_volume=rng.random(grid.shape + (3,)).astype(np.float32) * occ[..., None],
        item_to_view=np.eye(4), smpl_full_pose=rng.normal(size=72).astype(np.float32),
        smpl_betas=rng.normal(size=10).astype(np.float32), smpl_transl=np.zeros(3, np.float32),
        meta={"subject": subject, "view_index": view, "yaw": np.float64(0.5)})


def write(corpus, name, samples):
    with CorpusWriter(corpus, SMALL_GRID, name) as w:
        for s in samples:
            w.add(s)
    return w.path


def test_round_trip(tmp_path, rng):
    samples = [make_sample(rng, view=v) for v in range(3)]
    write(tmp_path, "a", samples)
    c = open_corpus(tmp_path)
    assert len(c) == 3 and c.grid == SMALL_GRID
    for i, s in enumerate(samples):
        r = c.sample(i)
        assert np.array_equal(r.rgb, s.rgb)
        assert np.array_equal(r.occupancy, s.occupancy)
        assert np.array_equal(r.mask, s.mask)
        assert np.abs(r.semantic_map - s.semantic_map).max() <= 0.5 / 255 + 1e-6
        assert np.abs(r.semantic_volume - s.semantic_volume).max() <= 0.5 / 255 + 1e-6
        assert np.abs(r.normal_map - s.normal_map).max() < 1e-3
        assert np.allclose(r.smpl_full_pose, s.smpl_full_pose)
        assert r.meta == {"subject": "s0", "view_index": i, "yaw": 0.5}
        assert c.meta(i)["view_index"] == i


def test_same_samples_give_identical_bytes(tmp_path):
    digests = []
    for run in range(2):
        rng = np.random.default_rng(7)
        p = write(tmp_path / f"run{run}", "x", [make_sample(rng) for _ in range(2)])
        digests.append(hashlib.sha256(p.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_failed_writer_leaves_nothing(tmp_path, rng):
    with pytest.raises(RuntimeError):
        with CorpusWriter(tmp_path, SMALL_GRID, "broken") as w:
            w.add(make_sample(rng))
            raise RuntimeError("synthesis failed")
    assert list((tmp_path / "shards").iterdir()) == []


def test_wrong_shape_rejected(tmp_path, rng):
    s = make_sample(rng)
    s.occupancy = s.occupancy[:-1]
    with CorpusWriter(tmp_path, SMALL_GRID, "a") as w:
        with pytest.raises(ValueError, match="occupancy"):
            w.add(s)


def test_schema_version_checked(tmp_path, rng):
    p = write(tmp_path, "a", [make_sample(rng)])
    with h5py.File(p, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(SchemaError, match="a.h5.*version 99"):
        open_corpus(tmp_path)


def test_split_by_subject(tmp_path, rng):
    for k in range(10):
        write(tmp_path, f"s{k}", [make_sample(rng, subject=f"{k:03d}", view=v) for v in range(2)])
    c = open_corpus(tmp_path)
    splits = {s: c.split_indices(s, seed=3) for s in ("train", "val", "test")}
    assert sum(len(v) for v in splits.values()) == len(c) == 20
    subj = {s: {c.meta(i)["subject"] for i in idx} for s, idx in splits.items()}
    assert len(subj["val"]) == 1 and len(subj["test"]) == 1 and len(subj["train"]) == 8
    assert not (subj["train"] & subj["val"]) and not (subj["train"] & subj["test"])
    assert c.split_indices("val", seed=3) == splits["val"]


def test_torch_dataset_in_workers(tmp_path, rng):
    torch = pytest.importorskip("torch")
    for k in range(3):
        write(tmp_path, f"s{k}", [make_sample(rng, subject=f"{k}", view=v) for v in range(2)])
    ds = TorchCorpusDataset(tmp_path, "train")
    item = ds[0]
    d, h, w = SMALL_GRID.shape
    assert item["rgb"].shape == (3, 2 * h, 2 * w) and item["rgb"].dtype == torch.float32
    assert item["mask"].shape == (1, 2 * h, 2 * w)
    assert item["occupancy"].shape == (1, d, h, w)
    assert item["semantic_volume"].shape == (3, d, h, w)
    assert float(item["rgb"].max()) <= 1.0
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2,
                                         multiprocessing_context=mp.get_context("fork"))
    batches = list(loader)
    assert sum(len(b["index"]) for b in batches) == len(ds)
    assert torch.equal(batches[0]["occupancy"][0], item["occupancy"])
