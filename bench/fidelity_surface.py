"""Choose surface.BODY_LEVEL on a validation split: IoU / Chamfer / P2S of DeepHuman given the oracle and
the perturbed body, for each body_level (docs/model.md, run C). Never run it on the test split to choose.

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
levels = (0.5, 0.4, 0.3, 0.2, 0.1, 0.0)
cfg, model, step = load_model(run); cfg.train.seed = 0
corpus = open_corpus(corpus_dir)
for bodyname in ("oracle", "perturbed"):
    ds = make_dataset(corpus_dir, cfg, split)
    if bodyname == "perturbed":
        ds = PerturbedBodyDataset(ds, DEFAULT_LEVELS, PERTURB_SEED, mode="test")
    grid = ds.grid; ms = grid.depth // 8
    res = {l: [] for l in levels}; base = []
    for batch in torch.utils.data.DataLoader(ds, batch_size=4):
        batch = decode_batch(batch, grid, "cpu")
        preds = predict_batch(model, batch, "semantic")
        for b, pr in enumerate(preds):
            t = batch["occupancy"][b, 0].numpy() > 0.5
            body = surface.body_occupancy(batch["semantic_volume"][b].numpy(), channel_axis=0)
            mpu = metrics.metres_per_unit(corpus.read_raw(int(batch["index"][b]), ["item_to_view"])["item_to_view"])
            tm = metrics.occupancy_mesh(t, grid)
            iou_b, sb = metrics.iou_z_search(body, t, ms)
            d = metrics.mesh_distances_cm(metrics.occupancy_mesh(metrics.shift_depth(body.astype(np.float32), sb), grid), tm, mpu)
            base.append((iou_b, d["chamfer_cm"], d["p2s_cm"]))
            for l in levels:
                f = surface.surface_field(pr["occupancy"], body, l)
                iou, s = metrics.iou_z_search(f >= 0.5, t, ms)
                d = metrics.mesh_distances_cm(metrics.occupancy_mesh(metrics.shift_depth(f, s), grid), tm, mpu)
                res[l].append((iou, d["chamfer_cm"], d["p2s_cm"]))
    m = np.mean(base, 0)
    print(f"[{split}, {bodyname} body, {len(base)} samples, step {step}] body alone: IoU {m[0]:.3f} Chamfer {m[1]:.2f} P2S {m[2]:.2f}")
    for l in levels:
        m = np.nanmean(res[l], 0)
        print(f"  body_level {l:.1f}: IoU {m[0]:.3f} Chamfer {m[1]:.2f} P2S {m[2]:.2f}")
