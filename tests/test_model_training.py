"""Two-stage training on generated corpora: overfitting, exact resume, NaN stop, batch order."""
import numpy as np
import pytest
import torch

from thuman.model.checkpoint import read_checkpoint
from thuman.model.config import small_config
from thuman.model.data import StreamSampler, stream_indices
from thuman.model.evaluate import evaluate
from thuman.model.testing_data import write_analytic_corpus
from thuman.model.train import train
from thuman_io.errors import TrainingError
from thuman_io.grid import VolumeGrid
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)

TINY = VolumeGrid(16, 24, 16)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    return write_analytic_corpus(tmp_path_factory.mktemp("corpus") / "tiny", TINY, 4)


def tiny_config(**kw):
    base = dict(stage1_steps=60, stage2_steps=20, num_workers=0, checkpoint_every=1000, log_every=10, lr=1e-3)
    base.update(kw)
    return small_config(**base)


def weights(path):
    return read_checkpoint(path)["model"]


def test_tiny_config_overfits_four_samples(tiny_corpus, tmp_path):
    result = train(tiny_config(), tiny_corpus, tmp_path / "run", show_progress=False)
    assert result.step == 80
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert any((tmp_path / "run" / "tensorboard").iterdir())
    report = evaluate(tmp_path / "run", tiny_corpus, "train")
    assert report["num_samples"] == 4
    assert report["metrics"]["iou"] > 0.9
    # The refiner improves on the projection it is given (Table 4's direction).
    m = report["metrics"]
    assert m["normal_with_refinement/cosine_distance"] < m["normal_without_refinement/cosine_distance"]


def test_resume_continues_exactly(tiny_corpus, tmp_path):
    cfg = tiny_config(stage1_steps=3, stage2_steps=3, checkpoint_every=2)
    train(cfg, tiny_corpus, tmp_path / "straight", show_progress=False)
    # Interrupted after 4 steps (crossing into stage 2 after the resume), then resumed.
    train(tiny_config(stage1_steps=3, stage2_steps=3, checkpoint_every=2), tiny_corpus, tmp_path / "resumed",
          show_progress=False, max_steps=4)
    assert read_checkpoint(tmp_path / "resumed")["step"] == 4
    train(tiny_config(stage1_steps=3, stage2_steps=3, checkpoint_every=2), tiny_corpus, tmp_path / "resumed",
          resume=True, show_progress=False)
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert read_checkpoint(tmp_path / "resumed")["step"] == 6
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # Same seed, same result; another seed, another result.
    train(tiny_config(stage1_steps=3, stage2_steps=3, seed=1), tiny_corpus, tmp_path / "seed1", show_progress=False)
    c = weights(tmp_path / "seed1")
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_nan_loss_stops_with_the_last_good_checkpoint_intact(tiny_corpus, tmp_path):
    # An absurd learning rate blows the weights up within a few steps.
    cfg = tiny_config(lr=1e12, stage1_steps=50, stage2_steps=0, checkpoint_every=1)
    with pytest.raises(TrainingError, match="loss became .* at step .*last good checkpoint") as err:
        train(cfg, tiny_corpus, tmp_path / "run", show_progress=False)
    state = read_checkpoint(tmp_path / "run")
    failed_at = int(str(err.value).split("at step ")[1].split(" ")[0])
    assert state["step"] == failed_at - 1
    assert np.isfinite(state["extra"]["losses"]["loss/total"])


def test_batch_stream_is_a_function_of_seed_and_step():
    a = [stream_indices(10, 4, s, seed=3) for s in range(5)]
    assert all(len(set(x)) == 4 for x in a[:2])
    flat = np.concatenate(a)[:10]
    assert sorted(flat.tolist()) == list(range(10))      # the first epoch is a permutation
    one = list(StreamSampler(10, 4, 2, 4, seed=3))
    r0 = list(StreamSampler(10, 4, 2, 4, seed=3, rank=0, world_size=2))
    r1 = list(StreamSampler(10, 4, 2, 4, seed=3, rank=1, world_size=2))
    assert one == np.concatenate([a[2], a[3]]).tolist()
    assert sorted(r0[:2] + r1[:2]) == sorted(one[:4])


@pytest.mark.slow
def test_one_training_step_at_full_resolution_batch_4(tmp_path):
    from thuman_io.grid import PAPER_GRID
    corpus = write_analytic_corpus(tmp_path / "full", PAPER_GRID, 4)
    torch.set_num_threads(2)
    cfg = small_config(stage1_steps=0, stage2_steps=1, num_workers=0, batch_size=4)
    result = train(cfg, corpus, tmp_path / "run", show_progress=False)
    assert result.step == 1 and np.isfinite(result.last_losses["loss/total"])
    assert tuple(read_checkpoint(tmp_path / "run")["config"]["net"]["grid"]) == PAPER_GRID.shape


@pytest.mark.slow
def test_small_preset_overfits_at_the_paper_learning_rate(tmp_path):
    from thuman_io.grid import SMALL_GRID
    corpus = write_analytic_corpus(tmp_path / "small", SMALL_GRID, 4)
    cfg = small_config(stage1_steps=150, stage2_steps=50, num_workers=0, checkpoint_every=1000)
    train(cfg, corpus, tmp_path / "run", show_progress=False)
    assert evaluate(tmp_path / "run", corpus, "train")["metrics"]["iou"] > 0.9


def test_compact_batches_decode_to_the_corpus_tensors(tiny_corpus):
    from thuman.model.data import CompactCorpusDataset, decode_batch
    from thuman_io.corpus import TorchCorpusDataset
    compact, reference = CompactCorpusDataset(tiny_corpus), TorchCorpusDataset(tiny_corpus)
    got = decode_batch(torch.utils.data.default_collate([compact[1], compact[2]]), TINY, "cpu")
    want = torch.utils.data.default_collate([reference[1], reference[2]])
    for k in ("rgb", "semantic_map", "normal_map", "mask", "occupancy", "semantic_volume"):
        assert got[k].shape == want[k].shape and got[k].dtype == torch.float32, k
        assert torch.equal(got[k], want[k]), k
