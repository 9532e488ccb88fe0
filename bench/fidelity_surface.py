"""Check the surface levels (model/surface.py) on a validation split: IoU / Chamfer / P2S of a
trained network (given the oracle and, for semantic inputs, the perturbed body) for each pair
(level outside the body, body_level inside). docs/model.md, "The surface". Never run it on the
test split to choose.

    python bench/fidelity_surface.py RUN CORPUS val
"""
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")
import sys, numpy as np, torch
from thuman.model import metrics, surface
from thuman.model.checkpoint import load_model
from thuman.model.data import decode_batch
from thuman.model.evaluate import predict_batch, PERTURB_SEED
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
corpus = open_corpus(corpus_dir)
for bodyname in (("oracle", "perturbed") if rep == "semantic" else ("oracle",)):
    ds = make_dataset(corpus_dir, cfg, split)
    if bodyname == "perturbed":
        ds = PerturbedBodyDataset(ds, DEFAULT_LEVELS, PERTURB_SEED, mode="test")
    grid = ds.grid; ms = grid.depth // 8
    res = {v: [] for v in variants}
    for batch in torch.utils.data.DataLoader(ds, batch_size=4):
        batch = decode_batch(batch, grid, "cpu")
        preds = predict_batch(model, batch, rep)
        for b, pr in enumerate(preds):
            t = batch["occupancy"][b, 0].numpy() > 0.5
            body = surface.body_occupancy(batch["semantic_volume"][b].numpy(), channel_axis=0) if rep == "semantic" else None
            mpu = metrics.metres_per_unit(corpus.read_raw(int(batch["index"][b]), ["item_to_view"])["item_to_view"])
            tm = metrics.occupancy_mesh(t, grid)
            for v in variants:
                f = surface.surface_field(pr["occupancy"], body, v)
                iou, s = metrics.iou_z_search(f >= 0.5, t, ms)
                d = metrics.mesh_distances_cm(metrics.occupancy_mesh(metrics.shift_depth(f, s), grid), tm, mpu)
                res[v].append((iou, d["chamfer_cm"], d["p2s_cm"]))
    print(f"[{split}, {rep}, {bodyname}]", flush=True)
    for v in variants:
        m = np.nanmean(res[v], 0)
        print(f"  level {v.level} body {v.body_level}: IoU {m[0]:.3f} Chamfer {m[1]:.3f} P2S {m[2]:.3f}", flush=True)
