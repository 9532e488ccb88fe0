"""Dataset directories: iteration with filters, the subject split, summaries, hidden files."""
import numpy as np
import pytest

import thuman_io
from thuman_io.dataset import read_header
from thuman_io.errors import InputError
from thuman_io.testing import make_synthetic_item


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(3)
    for s in range(6):
        for p in (0, 2, 5):
            thuman_io.write_item(tmp_path, make_synthetic_item(rng, f"sub{s:02d}", p, n_vertices=200,
                                                               with_frame=(p == 0)))
    return tmp_path


def test_iterate_and_filter(dataset):
    ds = thuman_io.open_dataset(dataset)
    refs = list(ds.items())
    assert len(refs) == len(ds) == 18
    assert [(r.subject, r.pose_index) for r in refs[:3]] == [("sub00", 0), ("sub00", 2), ("sub00", 5)]
    assert [r.pose_index for r in ds.items(subject="sub03")] == [0, 2, 5]
    assert [r.subject for r in ds.items(pose=5)] == [f"sub{s:02d}" for s in range(6)]
    assert [r.item_id for r in ds.items(subject="sub01", pose=2)] == ["sub01/0002"]
    assert list(ds.items(subject="nobody")) == []
    item = refs[0].load()
    assert item.frame is None and item.meta.subject == "sub00"
    assert refs[0].load(frame=True).frame is not None


def test_hidden_and_foreign_files_are_ignored(dataset):
    (dataset / "sub00" / ".tmp-123-abcd-0009.h5").write_bytes(b"half an item")
    (dataset / ".cache").mkdir()
    (dataset / "sub00" / "notes.txt").write_text("hello")
    ds = thuman_io.open_dataset(dataset)
    assert len(ds) == 18 and ds.stray_files() == []
    assert thuman_io.validate_dataset(dataset) == []
    (dataset / "sub00" / "first.h5").write_bytes(b"x")
    assert [p.name for p in ds.stray_files()] == ["first.h5"]
    problems = thuman_io.validate_dataset(dataset)
    assert len(problems) == 1 and "first.h5: not an item name" in problems[0]


def test_split_by_subject_is_deterministic_and_disjoint(dataset):
    ds = thuman_io.open_dataset(dataset)
    split = ds.split_subjects(seed=0)
    assert sorted(sum(split.values(), [])) == ds.subjects()
    assert len(split["val"]) == 1 and len(split["test"]) == 1 and len(split["train"]) == 4
    assert split == thuman_io.open_dataset(dataset).split_subjects(seed=0)
    refs = {name: ds.split(name, seed=0) for name in ("train", "val", "test")}
    assert sum(len(v) for v in refs.values()) == 18
    for name, subjects in split.items():
        assert {r.subject for r in refs[name]} == set(subjects)
    seeds = {tuple(ds.split_subjects(seed=s)["test"]) for s in range(10)}
    assert len(seeds) > 1  # the seed matters
    with pytest.raises(InputError, match="split"):
        ds.split("holdout")


def test_split_rank_does_not_depend_on_other_subjects(dataset, rng):
    ds = thuman_io.open_dataset(dataset)
    before = ds.split_subjects(seed=1)
    for s in range(6, 10):  # adding subjects changes counts, never swaps two old subjects' order
        thuman_io.write_item(dataset, make_synthetic_item(rng, f"sub{s:02d}", 0, n_vertices=100, with_frame=False))
    after = ds.split_subjects(seed=1)
    old = set(sum(before.values(), []))
    held_out_before = set(before["test"]) | set(before["val"])
    # With the same hold-out counts, an old subject can only leave the hold-out, never enter it.
    assert (set(after["test"]) | set(after["val"])) & old <= held_out_before
    assert len(after["val"]) == 1 and len(after["test"]) == 1


def test_summary_and_header(dataset):
    ds = thuman_io.open_dataset(dataset)
    summary = ds.summary()
    assert summary.n_items == 18 and summary.n_frames == 6 and summary.n_textured == 18
    assert summary.items_per_subject == {f"sub{s:02d}": 3 for s in range(6)}
    assert summary.body_models == {"open/neutral": 18}
    assert summary.bbox_m.shape == (2, 3) and (summary.bbox_m[1] > summary.bbox_m[0]).all()
    h = read_header(next(ds.items()).path)
    item = next(ds.items()).load()
    np.testing.assert_allclose(h.bbox_m, [item.mesh.vertices.min(0), item.mesh.vertices.max(0)])
    assert (h.n_vertices, h.n_faces) == (len(item.mesh.vertices), len(item.mesh.faces))
    assert ds.summary(subject="sub02").n_items == 3


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="dataset directory not found"):
        thuman_io.open_dataset(tmp_path / "nope")
