"""The demo's last two stages' work: reconstruct one held-out image, and gather the report.

Both read what earlier stages left in the run folder (layout in :mod:`thuman.demo`) through the
libraries (``thuman_io``, ``thuman.model``) and hand arrays to :mod:`thuman.figures` and
:class:`thuman.report.ReportData`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from thuman_io.atomic import atomic_write_text
from thuman_io.errors import InputError

if TYPE_CHECKING:
    from thuman.report import ReportData

PREVIEW_COLUMNS = "rgb, semantic map, normal map, silhouette, occupancy depth, semantic volume (front)"
SHEET_COLUMNS = ("RGB input, semantic map, ground-truth normals, normals projected from the prediction, "
                 "refined normals (R), front silhouettes (white both, red prediction only, green ground truth only)")


def reconstruct_held_out(corpus_dir, run_dir, out_dir, seed: int = 0) -> dict:
    """Reconstruct the first view of the first held-out (test) item, as ``thuman reconstruct`` would:
    its image and its body fit (``body.json``) in, a mesh out. Writes input.png, body.json,
    mesh.ply, side_by_side.png (input | projected normals | refined normals | mesh) and
    views.png (input, reconstruction front and side, ground truth front and side). Returns a summary."""
    from thuman.figures import box_corners, fit_height, hstack, mesh_views
    from thuman.model import metrics, surface
    from thuman.model.body_inputs import body_inputs, corpus_body_params, read_body_params
    from thuman.model.checkpoint import load_model
    from thuman.model.reconstruct import reconstruct, side_by_side, write_mesh, write_png
    from thuman_io.corpus import open_corpus

    out_dir = Path(out_dir)
    corpus = open_corpus(corpus_dir)
    test = corpus.split_indices("test", seed)
    if not test:
        raise InputError(corpus_dir, "the corpus has no held-out (test) sample to reconstruct")
    index = test[0]
    sample, meta, grid = corpus.sample(index), corpus.meta(index), corpus.grid
    cfg, model, step = load_model(run_dir)
    write_png(out_dir / "input.png", sample.rgb.astype(np.float32) / 255.0)
    params = corpus_body_params(corpus, index)
    atomic_write_text(out_dir / "body.json", json.dumps(params))
    body = body_inputs(read_body_params(out_dir / "body.json"), grid)
    recon = reconstruct(model, sample.rgb, body.semantic_map, body.semantic_volume, grid, surface.network_levels(cfg))
    write_mesh(out_dir / "mesh.ply", recon.vertices, recon.faces)
    write_png(out_dir / "side_by_side.png", side_by_side(sample.rgb, recon, grid))
    # Both meshes are in the grid's view frame: drawn in the grid's box, they keep their true size
    # and place, and the front views line up with the input image.
    frame = {"fit_points": box_corners(grid), "margin": 1.0}
    views = mesh_views(recon.vertices, recon.faces, (0.0, math.pi / 2), **frame)
    views.insert(0, fit_height(sample.rgb, views[0].shape[0]))
    truth = metrics.occupancy_mesh(sample.occupancy, grid)
    if truth is not None:
        views += mesh_views(truth[0], truth[1], (0.0, math.pi / 2), **frame)
    write_png(out_dir / "views.png", hstack(views))
    summary = {"item_id": meta.get("item_id"), "view": meta.get("view_index"), "index": int(index),
               "step": step, "vertices": int(len(recon.vertices)), "faces": int(len(recon.faces)),
               "mesh": str(out_dir / "mesh.ply")}
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    return summary


def _item_figures(dataset_dir) -> list:
    import thuman_io
    from thuman.figures import PICTURE_GRID, item_picture
    from thuman.report import Figure
    from thuman.synth.render.renderer import OrthoRenderer

    refs = sorted(thuman_io.open_dataset(dataset_dir).items(), key=lambda r: (str(r.subject), int(r.pose_index)))
    figs = []
    renderer = OrthoRenderer(PICTURE_GRID)
    try:
        for ref in refs:
            item = ref.load(frame=True)
            extra = item.meta.extra or {}
            words = [f"{ref.subject}/{int(ref.pose_index):04d}: {len(item.mesh.vertices)} vertices, "
                     f"{len(item.mesh.faces)} faces, device {item.meta.device}"]
            if extra.get("capture_session") != "bypassed":
                words.append("post-processing: " + (", ".join(item.meta.postprocessing) or "none"))
            err = extra.get("ground_truth_errors")
            if err:
                words.append(f"surface error vs. the simulator {err.get('surface_mean_mm', float('nan')):.1f} mm mean")
            if extra.get("garments"):
                words.append("wearing " + ", ".join(extra["garments"]))
            caption = "; ".join(words)
            figs.append(Figure(item_picture(item, renderer), caption))
    finally:
        renderer.close()
    return figs


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def collect_report(out: Path, settings) -> ReportData:
    """Everything :func:`thuman.report.build_html` needs, from a demo run folder."""
    from thuman import __version__
    from thuman.demo import CORPUS, DATASET, EVAL, RECON, RUN, STAGE_NAMES, capture_label
    from thuman.demo_capture import BYPASS_NOTE
    from thuman.figures import curves_png, read_scalars
    from thuman.report import Evaluation, Figure, ReportData, StageLine
    from thuman.stages import read_marker
    from thuman_io.corpus import open_corpus

    out = Path(out)
    data = ReportData(title="thuman demo: capture, synthesize, train, evaluate, reconstruct",
                      settings={"subjects": settings.subjects, "poses per subject": settings.poses,
                                "training steps": settings.steps, "seed": settings.seed,
                                "capture": capture_label(settings), "wardrobe": settings.wardrobe,
                                "toolkit": __version__})
    for name in STAGE_NAMES:
        m = read_marker(out, name)
        if m is not None:
            summ = ", ".join(f"{k} {v}" for k, v in m.get("summary", {}).items() if not isinstance(v, (dict, list)))
            data.stages.append(StageLine(name, "done", float(m.get("seconds", 0.0)), summ))
    if settings.capture == "ground-truth":
        data.notices.append(f"Capture: {BYPASS_NOTE}. The items below are the simulator's own clothed meshes, "
                            "body parameters and sensor frames, not the output of tracking and fusion. "
                            "Run `thuman demo --capture session` to capture them with the capture session.")
        data.capture_note = "Simulator ground truth at the instants a capture session would save its items."
    elif settings.capture == "mixed":
        n = min(settings.captured, settings.subjects)
        data.notices.append(f"Capture: the first {n} subject(s) were captured by the capture session; for the other "
                            f"{settings.subjects - n}: {BYPASS_NOTE} (their items are the simulator's own meshes), "
                            "so that the corpus is large enough to train on within the demo's minutes.")
        data.capture_note = (f"Subjects s00-s{n - 1:02d}: captured by the capture session on the simulated depth "
                             f"sensor, {settings.interval_s:g} s per prompted pose; the others: simulator ground truth "
                             "at the instants a capture session would save its items.")
    else:
        data.capture_note = ("Captured by the capture session (body tracking, non-rigid fusion, post-processing) "
                             f"on the simulated depth sensor, {settings.interval_s:g} s per prompted pose "
                             "(the demo's short interval; `thuman capture` keeps the paper's 6 s).")
    data.capture_note += (" Each picture: the RGB frame (cropped to where depth was measured), the vertex-coloured mesh "
                          "from the camera, the bare geometry from the camera and from the side.")
    data.notices.append(f"The network was trained for {settings.steps} steps at the CPU preset (32x48x32 grid), "
                        "not the paper's 30k steps at 128x192x128: the numbers are this run's, not the paper's.")
    data.items = _item_figures(out / DATASET)

    corpus = open_corpus(out / CORPUS)
    split = corpus.split_subjects(settings.seed)
    role = {s: k for k, subs in split.items() for s in subs}
    previews = sorted((out / CORPUS / "preview").glob("*.png"))
    data.corpus_note = (f"{len(corpus)} samples on the {'x'.join(map(str, corpus.grid.shape))} grid; subjects for "
                        f"training {', '.join(split['train'])}, validation {', '.join(split['val'])}, "
                        f"test {', '.join(split['test'])}. One preview per item: a row per view; columns "
                        f"{PREVIEW_COLUMNS}.")
    data.corpus_previews = [Figure(p, f"{p.stem} ({role.get(p.stem.rsplit('_', 1)[0], '?')})") for p in previews]

    scalars = read_scalars(out / RUN / "tensorboard") if (out / RUN / "tensorboard").is_dir() else {}
    if scalars:
        data.curves = Figure(curves_png(scalars, settings.stage1_steps),
                             f"Losses per step (eq. 10 and its terms); stage 1 = steps 1-{settings.stage1_steps} "
                             "(H and R pre-trained separately), stage 2 joint fine-tuning.")

    summary = _read_json(out / EVAL / "report.json")
    if summary:
        net = summary.get("DeepHuman, oracle body") or next(iter(summary.values()))
        data.evaluation = Evaluation({name: r["metrics"] for name, r in summary.items()}, net.get("split", "test"),
                                     net["num_samples"], split["test"], net.get("step"))
    sheet = out / EVAL / "DeepHuman-oracle-body" / "sheet.png"
    if sheet.exists():
        data.eval_sheet = Figure(sheet, "Held-out samples, one per row. Columns: " + SHEET_COLUMNS + ".", scale=2)

    rec = _read_json(out / RECON / "summary.json")
    if rec:
        data.reconstruction_note = (f"Input: view {rec['view']} of held-out item {rec['item_id']} and its body fit "
                                    f"(as `thuman reconstruct IMAGE --smpl body.json`); output mesh "
                                    f"{rec['vertices']} vertices, written to {RECON}/mesh.ply.")
        data.reconstruction = [
            Figure(out / RECON / "views.png", "input image | reconstructed mesh (front, side) | ground-truth "
                   "occupancy surface (front, side)"),
            Figure(out / RECON / "side_by_side.png", "input | normals projected from the predicted volume | "
                   "refined normals (R) | reconstructed mesh, shaded by its normals", scale=3),
        ]
    data.footer = f"Run folder {out.resolve()}; rerun `thuman demo --out {out}` to resume or rebuild this report."
    return data
