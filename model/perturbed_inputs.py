"""Body inputs from perturbed body fits, for training (augmentation) and evaluation (test time).

:class:`PerturbedBodyDataset` wraps a :class:`~thuman.model.data.CompactCorpusDataset` and
replaces a sample's stored 'semantic_map' and 'semantic_volume' by those of its body fit
perturbed with ``thuman.synth.body_perturb`` (made by the synthesizer's own
``body_prior``, placed by the sample's ``item_to_view``, with the corpus's sigma and neighbours).

* training (``mode='train'``): the loader asks for *stream positions* ``p = epoch * n + j``
  (``make_loader(..., positions=True)``); sample j of epoch e is perturbed with probability
  ``prob`` by a draw from ``default_rng([seed, corpus index, e])``. The draw is a function of
  (seed, step) like the batch order, so resume and DDP see the same bodies.
* evaluation (``mode='test'``): every sample is perturbed by ``default_rng([seed, corpus index,
  TEST_STREAM])``, one fixed body per sample shared by the perturbed-body baseline and the network.

The renderer is made lazily in the process that reads (each DataLoader worker its own EGL
context), like the HDF5 handles.
"""
from __future__ import annotations

import numpy as np
import torch

from thuman_io.item import SMPLParams

#: The stream id of test-time perturbations (any constant other than an epoch number).
TEST_STREAM = 2 ** 31 - 1

_SMPL_FIELDS = ["smpl_full_pose", "smpl_betas", "smpl_transl", "item_to_view"]


class PerturbedBodyDataset:
    def __init__(self, base, levels, seed: int, prob: float = 1.0, mode: str = "train"):
        if mode not in ("train", "test"):
            raise ValueError(f"mode {mode!r}")
        self.base, self.grid, self.corpus = base, base.grid, base.corpus
        self.levels, self.seed, self.prob, self.mode = levels, int(seed), float(prob), mode
        self._renderer = None

    def __len__(self) -> int:
        return len(self.base)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_renderer"] = None       # never carry a GL context into another process
        return state

    def draw(self, index: int, epoch: int):
        """The Perturbation of corpus sample ``index`` in ``epoch``, or None for the stored body."""
        from thuman.synth.body_perturb import draw_perturbation

        rng = np.random.default_rng([self.seed, index, TEST_STREAM if self.mode == "test" else epoch])
        if self.mode == "train" and rng.uniform() >= self.prob:
            return None
        raw = self.corpus.read_raw(index, ["smpl_betas"])
        return draw_perturbation(rng, self.levels, len(raw["smpl_betas"]))

    def __getitem__(self, position: int) -> dict:
        n = len(self.base)
        epoch, j = divmod(int(position), n)
        item = self.base[j]
        index = int(item["index"])
        p = self.draw(index, epoch)
        if p is not None:
            item.update(self.perturbed_inputs(index, p))
        item["perturbed"] = p is not None
        return item

    def perturbed_inputs(self, index: int, p) -> dict:
        """'semantic_map' (2H, 2W, 3) and 'semantic_volume' (D, H, W, 3) uint8 tensors, quantised
        as the corpus stores them."""
        from thuman.synth.body_perturb import perturbed_prior
        from thuman.synth.semantic_volume import NEIGHBOURS, SIGMA
        from thuman_io.corpus import _quantise_unit

        if self._renderer is None:
            from thuman.synth.render.renderer import OrthoRenderer
            self._renderer = OrthoRenderer(self.grid)
        raw = self.corpus.read_raw(index, _SMPL_FIELDS)
        meta = self.corpus.meta(index)
        pose = np.asarray(raw["smpl_full_pose"], np.float32).reshape(72)
        smpl = SMPLParams(betas=raw["smpl_betas"], global_orient=pose[:3], body_pose=pose[3:],
                          transl=raw["smpl_transl"], model=str(meta.get("body_model", "open")),
                          gender=str(meta.get("body_gender", "neutral")))
        prior = perturbed_prior(smpl, np.asarray(raw["item_to_view"], np.float64), p, self.grid, self._renderer,
                                int(meta.get("semantic_neighbours", NEIGHBOURS)),
                                float(meta.get("semantic_sigma", SIGMA)))
        return {"semantic_map": torch.from_numpy(_quantise_unit(prior.semantic_map)),
                "semantic_volume": torch.from_numpy(_quantise_unit(prior.semantic_volume))}
