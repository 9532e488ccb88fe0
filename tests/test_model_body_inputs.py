"""One body-input path: `thuman reconstruct`'s inputs for a corpus item are the stored ones."""
import json

import numpy as np
import pytest

from model_fixtures import one_torch_thread  # noqa: F401  (autouse)


@pytest.fixture(scope="module")
def body_corpus(tmp_path_factory):
    """A 1-item corpus (2 views, small grid) made by the real synthesizer from a posed body item."""
    from thuman.synth.fixtures import make_body_item
    from thuman.synth.pipeline import SynthConfig, synthesize_item
    from thuman.synth.render.renderer import OrthoRenderer
    from thuman_io.corpus import CorpusWriter, open_corpus
    from thuman_io.grid import SMALL_GRID

    folder = tmp_path_factory.mktemp("body_corpus")
    item = make_body_item(np.random.default_rng(3), subject="s003")
    renderer = OrthoRenderer(SMALL_GRID)
    try:
        result = synthesize_item(item, SynthConfig(grid=SMALL_GRID, seed=5, views=2, sigma=0.06), renderer)
    finally:
        renderer.close()
    with CorpusWriter(folder / "corpus", SMALL_GRID, "s003") as w:
        for s in result.samples:
            w.add(s)
    return open_corpus(folder / "corpus"), folder


def test_reconstruct_inputs_equal_the_stored_ones(body_corpus):
    """The PARAMS file of a corpus sample, read and turned into inputs exactly as `thuman
    reconstruct` does, gives the stored semantic map and volume bit for bit (after the corpus's
    uint8 quantisation), with a non-default sigma that the file carries."""
    from thuman.model.body_inputs import body_inputs, corpus_body_params, read_body_params
    from thuman_io.corpus import _quantise_unit

    corpus, folder = body_corpus
    for index in range(len(corpus)):
        path = folder / f"body{index}.json"
        path.write_text(json.dumps(corpus_body_params(corpus, index)))
        body = body_inputs(read_body_params(path), corpus.grid)
        stored = corpus.read_raw(index, ["semantic_map", "semantic_volume"])
        assert stored["semantic_map"].any() and stored["semantic_volume"].any()
        np.testing.assert_array_equal(_quantise_unit(body.semantic_map), stored["semantic_map"])
        np.testing.assert_array_equal(_quantise_unit(body.semantic_volume), stored["semantic_volume"])


def test_map_threshold_is_the_one_constant():
    """Pixels covered by exactly half of their 4 samples are body (alpha >= MAP_COVERAGE)."""
    from thuman.synth.body_prior import MAP_COVERAGE, semantic_map

    class HalfCovered:      # a renderer whose every pixel is half covered
        def flat_pass(self, vertices, faces, colors, scale):
            return np.full((4, 4, 3), 0.25, np.float32), np.full((4, 4), 0.5, np.float32)

    assert MAP_COVERAGE == 0.5
    out = semantic_map(HalfCovered(), np.zeros((3, 3)), np.zeros((1, 3), int), np.zeros((3, 3)))
    assert np.all(out == 0.25)


def test_params_go_through_thuman_io_reader(tmp_path):
    """Defaults are the exchange reader's (model 'smpl' when the file says nothing), and a bad
    item_to_view is a one-line error naming the file."""
    from thuman.model.body_inputs import read_body_params
    from thuman_io.errors import InputError

    p = tmp_path / "fit.json"
    p.write_text(json.dumps({"betas": [0] * 10, "pose": [0] * 72}))
    assert read_body_params(p).smpl.model == "smpl"
    p.write_text(json.dumps({"betas": [0] * 10, "pose": [0] * 72, "item_to_view": [1, 2, 3]}))
    with pytest.raises(InputError, match="fit.json: field 'item_to_view'"):
        read_body_params(p)
