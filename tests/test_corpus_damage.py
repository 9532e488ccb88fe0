"""120 damaged shards through the library's corpus reader and validator: every damage is one
toolkit error line naming the shard (never a raw h5py/numpy/json exception), every NaN/inf is
reported with its field, and a damage nothing reports left the samples exactly as written."""
import shutil

import h5py
import numpy as np
import pytest

from thuman_io import SMALL_GRID, CorpusSample, ThumanError
from thuman_io.corpus import CorpusWriter, open_corpus
from thuman_io.corpus_validate import validate_corpus

GRID = SMALL_GRID
DATASETS = ("rgb", "semantic_map", "normal_map", "mask", "occupancy", "body_occupancy", "item_to_view",
            "smpl_full_pose", "smpl_betas", "smpl_transl", "semantic_codes", "semantic_offsets", "meta_json")
FLOATS = ("normal_map", "item_to_view", "smpl_full_pose", "smpl_betas", "smpl_transl")


def valid_sample(rng, view=0, subject="s01", seed=0) -> CorpusSample:
    """A sample that passes every check of corpus_validate (a box of body inside a box of clothes)."""
    d, h, w = GRID.shape
    occ = np.zeros(GRID.shape, bool)
    occ[8:24, 10:40, 8:24] = True
    sv = np.zeros(GRID.shape + (3,), np.float32)
    sv[10:22, 12:38, 10:22] = rng.uniform(0.1, 1.0, (12, 26, 12, 3))
    h2, w2 = GRID.normal_map_shape
    mask = np.zeros((h2, w2), bool)
    mask[20:80, 16:48] = True
    n = rng.normal(size=(h2, w2, 3)).astype(np.float32)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    n[~mask] = 0
    meta = {"item_id": f"{subject}/0000", "subject": subject, "pose_index": 0, "view_index": view,
            "yaw": 0.1 * view, "pitch": 0.0, "roll": 0.0, "seed": seed, "light": [0.5, 0.5]}
    return CorpusSample(rgb=rng.integers(0, 256, (h2, w2, 3), dtype=np.uint8),
                        semantic_map=rng.random((h2, w2, 3)).astype(np.float32) * mask[..., None],
                        normal_map=n, mask=mask, occupancy=occ, semantic_volume=sv, item_to_view=np.eye(4),
                        smpl_full_pose=rng.normal(0, 0.1, 72).astype(np.float32),
                        smpl_betas=rng.normal(size=10).astype(np.float32),
                        smpl_transl=np.zeros(3, np.float32), meta=meta)


def write_shard(corpus, rng, name="s01_0000", views=2, **kw):
    with CorpusWriter(corpus, GRID, name) as w:
        for v in range(views):
            w.add(valid_sample(rng, view=v, **kw))
    return w.path


def _content(corpus_dir):
    c = open_corpus(corpus_dir)
    out = [(c.read_raw(i), c.meta(i)) for i in range(len(c))]
    c.close()
    return out


def _same(a, b):
    return len(a) == len(b) and all(ma == mb and all(np.array_equal(ra[k], rb[k], equal_nan=True) for k in ra)
                                    for (ra, ma), (rb, mb) in zip(a, b))


def _damages(original: bytes, rng):
    """(label, function(path)) for 120 damages."""
    out = []
    for i in range(57):
        pos, bit = int(rng.integers(0, len(original))), int(rng.integers(0, 8))

        def flip(p, pos=pos, bit=bit):
            data = bytearray(original)
            data[pos] ^= 1 << bit
            p.write_bytes(bytes(data))
        out.append((f"bit flip {pos}:{bit}", flip))
    for i in range(10):
        n = int(rng.integers(0, len(original)))
        out.append((f"truncated to {n}", lambda p, n=n: p.write_bytes(original[:n])))
    for name in DATASETS:
        def delete(p, name=name):
            with h5py.File(p, "r+") as f:
                del f[name]

        def replace(p, name=name):
            with h5py.File(p, "r+") as f:
                shape = f[name].shape
                del f[name]
                f.create_dataset(name, data=np.zeros(shape[:1] + (2,), np.int8))
        out += [(f"deleted {name}", delete), (f"replaced {name}", replace)]
    for attr, bad in (("schema", "thuman.item"), ("schema_version", "1"), ("grid_shape", np.array([32, 48])),
                      ("num_samples", 5)):
        def drop(p, attr=attr):
            with h5py.File(p, "r+") as f:
                del f.attrs[attr]

        def wrong(p, attr=attr, bad=bad):
            with h5py.File(p, "r+") as f:
                f.attrs[attr] = bad
        out += [(f"deleted attribute {attr}", drop), (f"wrong attribute {attr}", wrong)]
    for label, rows in (("not JSON", [b"{not json", b"{}"]), ("JSON list", [b"[1, 2]", b"[]"])):
        def meta(p, rows=rows):
            with h5py.File(p, "r+") as f:
                del f["meta_json"]
                f.create_dataset("meta_json", data=np.array(rows))
        out.append((f"meta_json {label}", meta))
    for name in FLOATS:
        for value in (np.nan, np.inf, -np.inf):
            def poison(p, name=name, value=value):
                with h5py.File(p, "r+") as f:
                    a = f[name][1]
                    a.reshape(-1)[int(a.size // 2)] = value
                    f[name][1] = a
            out.append((f"{value} in {name}", poison))
    for label, values in (("decreasing", [0, 5, 3]), ("short of the table", [0, 1, 2])):
        def offsets(p, values=values):
            with h5py.File(p, "r+") as f:
                del f["semantic_offsets"]
                f.create_dataset("semantic_offsets", data=np.array(values, np.int64))
        out.append((f"semantic_offsets {label}", offsets))
    return out


def test_120_damaged_shards_give_toolkit_errors_only(tmp_path):
    rng = np.random.default_rng(0)
    clean = tmp_path / "clean"
    shard = write_shard(clean, rng)
    assert validate_corpus(clean) == []
    reference = _content(clean)
    original = shard.read_bytes()
    damages = _damages(original, np.random.default_rng(1))
    assert len(damages) == 120
    raw_exceptions, reported, nan_reported = [], 0, 0
    for k, (label, damage) in enumerate(damages):
        corpus = tmp_path / f"c{k}"
        shutil.copytree(clean, corpus)
        path = corpus / "shards" / shard.name
        damage(path)
        try:
            problems = validate_corpus(corpus)
        except Exception as e:  # noqa: BLE001 - counted: the test is that there are none
            raw_exceptions.append(f"validate, {label}: {type(e).__name__}: {e}")
            continue
        assert all(isinstance(p, str) and "\n" not in p and p.startswith(str(corpus)) for p in problems), label
        read_error = None
        try:
            content = _content(corpus)
        except ThumanError as e:
            read_error = str(e)
            assert "\n" not in read_error and str(path) in read_error, (label, read_error)
        except Exception as e:  # noqa: BLE001
            raw_exceptions.append(f"reader, {label}: {type(e).__name__}: {e}")
            continue
        if problems:
            reported += 1
        else:
            assert read_error is None and _same(content, reference), f"{label}: unreported change"
        if " in " in label and label.split(" in ")[1] in FLOATS:
            field = label.split(" in ")[1]
            assert any(f"'{field}'" in p and "NaN or inf" in p for p in problems), (label, problems)
            assert read_error and f"'{field}'" in read_error and "NaN or inf" in read_error, (label, read_error)
            nan_reported += 1
        shutil.rmtree(corpus)
    assert raw_exceptions == []
    assert nan_reported == 15
    print(f"{reported} of 120 damaged shards reported")
    assert reported >= 100, reported
