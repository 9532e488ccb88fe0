"""The model on a tiny corpus made by the real synthesizer (thuman.synth) from generated items."""
import numpy as np

from model_fixtures import one_torch_thread  # noqa: F401  (autouse)


def test_train_and_eval_on_a_synthesized_corpus(tmp_path):
    from thuman.model.config import small_config
    from thuman.model.evaluate import evaluate
    from thuman.model.train import train
    from thuman.synth.pipeline import SynthConfig, synthesize_item
    from thuman.synth.render.renderer import OrthoRenderer
    from thuman_io.corpus import CorpusWriter
    from thuman_io.grid import SMALL_GRID
    from thuman_io.testing import make_synthetic_item

    renderer = OrthoRenderer(SMALL_GRID)
    try:
        for k in range(3):       # 3 subjects: train / val / test one each
            item = make_synthetic_item(np.random.default_rng(k), subject=f"s{k:03d}", with_frame=False)
            result = synthesize_item(item, SynthConfig(grid=SMALL_GRID, seed=0, views=2), renderer)
            with CorpusWriter(tmp_path / "corpus", SMALL_GRID, f"s{k:03d}") as w:
                for s in result.samples:
                    w.add(s)
    finally:
        renderer.close()
    cfg = small_config(stage1_steps=2, stage2_steps=2, num_workers=0, batch_size=2)
    result = train(cfg, tmp_path / "corpus", tmp_path / "run", show_progress=False)
    assert result.step == 4 and np.isfinite(result.last_losses["loss/total"])
    report = evaluate(tmp_path / "run", tmp_path / "corpus", "test", tmp_path / "eval")
    assert report["num_samples"] == 2
    assert all(np.isfinite(v) for v in report["metrics"].values())
    assert (tmp_path / "eval" / "sheet.png").is_file()
