"""Check the surface levels (model/surface.py) on a validation split: IoU / Chamfer / P2S of a
trained network (given the oracle and, for semantic inputs, the perturbed body) for each pair
(level outside the body, body_level inside). docs/model.md, "The surface". Never run it on the
test split to choose.

    python bench/fidelity_surface.py RUN CORPUS val
"""
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")
import sys, numpy as np, torch
from thuman.model import surface
from thuman.model.checkpoint import load_model
from thuman.model.data import decode_batch
from thuman.model.evaluate import predict_batch, score_sample, PERTURB_SEED
from thuman.model.train import make_dataset
from thuman.model.perturbed_inputs import PerturbedBodyDataset
from thuman.synth.body_perturb import DEFAULT_LEVELS
from thuman_io.corpus import open_corpus
run, corpus_dir, split = sys.argv[1:4]
S = surface.SurfaceLevels
# the plain 0.5, the body threshold alone, the loss's even odds (0.7) around it, body levels around 0.1
variants = [S(0.5,0.5), S(0.5,0.1), S(0.6,0.1), S(0.7,0.1), S(0.8,0.1), S(0.7,0.05), S(0.7,0.0), S(0.7,0.2), S(0.7, 0.7)]
cfg, model, step = load_model(run); cfg.train.seed = 0
rep = cfg.net.representation
if rep != "semantic":   # no body volume: only the outside level means anything
    variants = sorted({S(v.level, v.level) for v in variants}, key=lambda v: v.level)
corpus = open_corpus(corpus_dir)
for bodyname in (("oracle", "perturbed") if rep == "semantic" else ("oracle",)):
    ds = make_dataset(corpus_dir, cfg, split)
    if bodyname == "perturbed":
        ds = PerturbedBodyDataset(ds, DEFAULT_LEVELS, PERTURB_SEED, mode="test")
    grid = ds.grid
    res = {v: [] for v in variants}
    for batch in torch.utils.data.DataLoader(ds, batch_size=4):
        batch = decode_batch(batch, grid, "cpu")
        for b, pr in enumerate(predict_batch(model, batch, rep)):
            item_to_view = corpus.read_raw(int(batch["index"][b]), ["item_to_view"])["item_to_view"]
            for v in variants:   # thuman eval's own per-sample metrics (z-shift search D / 8)
                row = score_sample(pr, batch, b, grid, item_to_view, grid.depth // 8, v)
                res[v].append((row["iou"], row["chamfer_cm"], row["p2s_cm"]))
    print(f"[{split}, {rep}, {bodyname}]", flush=True)
    for v in variants:
        m = np.nanmean(res[v], 0)
        print(f"  level {v.level} body {v.body_level}: IoU {m[0]:.3f} Chamfer {m[1]:.3f} P2S {m[2]:.3f}", flush=True)
