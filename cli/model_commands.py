"""``thuman train``, ``thuman eval`` and ``thuman reconstruct``: thin wrappers over thuman.model."""
from __future__ import annotations

import json
from pathlib import Path

import click

from thuman.cli.common import progress, stage


@click.command("train", context_settings={"ignore_unknown_options": False})
@click.argument("corpus", type=click.Path(file_okay=False))
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("overrides", nargs=-1)
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML or TOML config (sections net, loss, train); defaults are the paper's.")
@click.option("--resume", is_flag=True, help="Continue RUN_DIR/checkpoint.pt exactly (weights, Adam, step, RNG) "
              "with its saved config; only the keys given by --config/OVERRIDES change.")
@click.option("--max-steps", type=int, help="Stop after this global step (resumable).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(corpus, run_dir, overrides, config_path, resume, max_steps, no_progress):
    """Train DeepHuman on CORPUS, writing checkpoints, config.yaml and TensorBoard logs to RUN_DIR.

    OVERRIDES are section.key=value, e.g. train.stage1_steps=2000 net.vft=finest
    net.refine_normals=false. The network resolution is the corpus grid. Progress: a bar on a
    terminal, status lines otherwise; the validation split's loss and IoU every train.val_every
    steps go to RUN_DIR/validation.json and TensorBoard. Several processes or GPUs: torchrun
    --nproc_per_node N -m thuman.model.train CORPUS RUN_DIR [OVERRIDES].
    """
    from thuman.model.config import load_config
    from thuman.model.train import resume_config, train as run

    cfg = resume_config(run_dir, config_path, overrides) if resume else load_config(config_path, overrides)
    with stage("train"):
        result = run(cfg, corpus, run_dir, resume=resume, show_progress=not no_progress, max_steps=max_steps)
    click.echo(json.dumps({"run_dir": str(result.run_dir), "step": result.step, "seconds": round(result.seconds, 2),
                           **result.last_losses}, indent=2))


@click.command("eval")
@click.argument("checkpoint", required=False, type=click.Path())
@click.option("--corpus", required=True, type=click.Path(file_okay=False), help="Corpus folder.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test"]))
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for report.json and sheet.png (default: CHECKPOINT's folder/eval-SPLIT).")
@click.option("--baseline", type=click.Choice(["oracle-body", "perturbed-body"]),
              help="Evaluate only this baseline (no checkpoint needed): the corpus's body, or that body "
                   "with a fitting error, thresholded as the shape.")
@click.option("--body", type=click.Choice(["oracle", "perturbed"]),
              help="Evaluate only the network, with this body as its input.")
@click.option("--perturb-scale", type=float, default=1.0, show_default=True,
              help="Multiplies the fitting-error levels of the perturbed body (docs/model.md).")
@click.option("--max-samples", type=int, help="Evaluate at most this many samples.")
@click.option("--max-shift", type=int, help="z-shift search range in voxels (default D/8).")
@click.option("--device", default="cpu", show_default=True)
def eval_(checkpoint, corpus, split, out_dir, baseline, body, perturb_scale, max_samples, max_shift, device):
    """Evaluate CHECKPOINT (a run folder or checkpoint.pt) on a corpus split: 3D IoU with z-shift
    search, normal errors with/without refinement, Chamfer and P2S in cm. Without --baseline or
    --body: four methods on the same samples, the oracle body, the perturbed body, and the
    network with each (OUT/report.json and one folder per method)."""
    from thuman.model.evaluate import evaluate, evaluate_methods
    from thuman_io.errors import InputError

    if checkpoint is None and baseline is None:
        raise InputError(None, "thuman eval", "give a CHECKPOINT or --baseline oracle-body|perturbed-body")
    if out_dir is None:
        base = Path(checkpoint) if checkpoint else Path(corpus)
        base = base if base.is_dir() else base.parent
        out_dir = base / (f"eval-{split}" if baseline is None else f"eval-{baseline}-{split}")
    kw = dict(max_samples=max_samples, max_shift=max_shift, device=device, perturb_scale=perturb_scale,
              progress=lambda it: progress(it, desc="eval", unit="batch"))
    with stage("eval"):
        if baseline is not None or body is not None:
            reports = {baseline or f"DeepHuman, {body} body": evaluate(
                None if baseline else checkpoint, corpus, split, out_dir, baseline=baseline, body=body or "oracle", **kw)}
        else:
            reports = evaluate_methods(checkpoint, corpus, split, out_dir, **kw)
    click.echo(json.dumps({"num_samples": next(iter(reports.values()))["num_samples"],
                           **{name: r["metrics"] for name, r in reports.items()},
                           "report": str(Path(out_dir) / "report.json")}, indent=2))


@click.command("reconstruct")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--smpl", "params", required=True, type=click.Path(dir_okay=False),
              help="Body fit (.json/.npz: betas, pose or global_orient+body_pose, transl[, model, item_to_view]).")
@click.option("--checkpoint", required=True, type=click.Path(), help="Run folder or checkpoint.pt.")
@click.option("--out", "mesh_path", required=True, type=click.Path(dir_okay=False), help="Mesh file (.ply/.obj/.glb).")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Side-by-side image (default: MESH with .png).")
@click.option("--device", default="cpu", show_default=True)
def reconstruct(image, params, checkpoint, mesh_path, png_path, device):
    """Reconstruct a clothed mesh from IMAGE and its body fit: marching cubes, then the visible
    surface refined with the predicted normal map (Nehab et al. 2005)."""
    from thuman.model.body_inputs import body_inputs, read_body_params
    from thuman.model import surface
    from thuman.model.checkpoint import load_model
    from thuman.model.reconstruct import load_image, reconstruct as run, side_by_side, write_mesh, write_png
    from thuman_io.grid import VolumeGrid

    cfg, model, _ = load_model(checkpoint, device)
    grid = VolumeGrid.from_shape(cfg.net.grid)
    if cfg.net.representation != "semantic":
        from thuman_io.errors import InputError
        raise InputError(checkpoint, "reconstruct needs a network trained on semantic maps/volumes")
    rgb = load_image(image, grid)
    with stage("body inputs"):
        body = body_inputs(read_body_params(params), grid)
    with stage("reconstruct"):
        recon = run(model, rgb, body.semantic_map, body.semantic_volume, grid, surface.network_levels(cfg), device)
    write_mesh(mesh_path, recon.vertices, recon.faces)
    png_path = png_path or str(Path(mesh_path).with_suffix(".png"))
    write_png(png_path, side_by_side(rgb, recon, grid))
    click.echo(json.dumps({"mesh": mesh_path, "png": png_path, "vertices": len(recon.vertices),
                           "faces": len(recon.faces)}, indent=2))
