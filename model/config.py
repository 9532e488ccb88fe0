"""Run configuration: dataclasses whose defaults are the paper's numbers (sec. 4.2-4.3, Table 1).

A run is configured by :class:`RunConfig` (net + loss + train). It loads from YAML or TOML, takes
``section.key=value`` overrides from the command line, and is saved beside every run as
``config.yaml`` so that a checkpoint always travels with the configuration that made it.

Numbers the paper does not give (step counts of the two stages, LeakyReLU slope, checkpoint
cadence) are marked "not in the paper" below.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from thuman_io.errors import InputError

#: VFT switches (sec. 4.1.1 and the baselines of sec. 6.3.2).
VFT_MODES = ("multi", "finest", "coarsest", "latent")
#: Input representations (sec. 3 and the ablation of sec. 6.3.1 / Table 3).
REPRESENTATIONS = ("semantic", "joints")
#: Normalisation after every conv of G, H and R: none (Table 1) or BatchNorm (the authors' code).
NORMS = ("none", "batch")
#: Training schedules: the paper's two stages (sec. 4.3) or the authors' code's three phases.
SCHEDULES = ("paper", "authors")


@dataclass
class NetConfig:
    """The network of Table 1.

    grid:            (D, H, W) of the volumes; images are (H, W), the refiner works at (2H, 2W).
    levels:          encoder levels of G and H; None = 5 (Table 1) or, when the grid does not
                     divide by 2^5 (e.g. 32 x 48 x 32), the most levels that divide it.
    encoder_channels: channels of G's and H's encoder levels (Table 1: 8, 16, 32, 64, 128).
    output_channels: channels of H's last transposed conv (Table 1: 4).
    refiner_encoder_channels / refiner_decoder_channels: R of Table 1.
    vft:             'multi' (paper), 'finest' (baseline A), 'coarsest' (B), 'latent' (C).
    representation:  'semantic' (paper) or 'joints' (heat maps/volumes, Table 3).
    refine_normals:  False removes projection + R (Table 4 "without refinement" network).
    leaky_slope:     LeakyReLU slope (not in the paper; 0.2 as in pix2pix-style U-Nets).
    joint_sigma_voxels: std of the joint Gaussians in voxels (not in the paper).
    latent_dim:      size of the image latent code of baseline C (not in the paper).
    norm:            'none' (Table 1) or 'batch' (BatchNorm after every conv, the authors' code).
    kernel:          width of G's and H's stride-2 (transposed) convs: 4 (Table 1) or 7 (the
                     authors' code); R keeps 4 in both.
    refiner_residual: False (paper: R outputs the normal map) or True (the authors' code: R's
                     output is added to the projected normal map it refines).
    """

    grid: tuple = (128, 192, 128)
    levels: int | None = None
    encoder_channels: tuple = (8, 16, 32, 64, 128)
    output_channels: int = 4
    refiner_encoder_channels: tuple = (16, 32, 32, 32, 32)
    refiner_decoder_channels: tuple = (32, 32, 32, 16, 8)
    vft: str = "multi"
    representation: str = "semantic"
    refine_normals: bool = True
    leaky_slope: float = 0.2
    joint_sigma_voxels: float = 2.0
    latent_dim: int = 256
    norm: str = "none"
    kernel: int = 4
    refiner_residual: bool = False


@dataclass
class LossConfig:
    """Eqs. 7-10 with the weights of sec. 4.3 (the authors' code: lambda_fs = lambda_ss = 0.02,
    lambda_n = 0.1, see :func:`authors_config`)."""

    gamma: float = 0.7
    lambda_fs: float = 0.1
    lambda_ss: float = 0.1
    lambda_n: float = 0.01


@dataclass
class TrainConfig:
    """The two-stage schedule of sec. 4.3: Adam (default betas), fixed lr 2e-4, batch 4.

    stage1_steps: pre-training H (with G) and R; R sees normals projected from the ground-truth
                  occupancy (not in the paper: the count).
    stage2_steps: joint fine-tuning with the combined loss, R fed by H's prediction.
    batch_size:   the global batch; with torchrun each of N processes takes batch_size / N.
    amp:          'off' (default), 'on' (bfloat16 autocast; float16 + GradScaler on GPUs
                  without bfloat16), 'auto' (on for CUDA only). Off by default: on an H200 the
                  full-resolution step took 0.098 s with bfloat16 and 0.059 s in float32
                  (bench/train.py), the layers being too narrow (4-128 channels) to gain.
    device:       'auto' (cuda if available), 'cpu', 'cuda'.
    threads:      torch CPU threads (0 leaves torch's default). Default 1: at the small preset on
                  the 2-core machine one thread took 0.13 s/step and two 0.34 s/step
                  (bench/train.py, OMP_NUM_THREADS=1 vs 2), OpenMP threads spinning against the
                  other processes; a training process per core scales better than threads.
    schedule:     'paper' (two stages, above) or 'authors' (the released code's three phases:
                  G + H alone for stage1_steps; R alone on normals projected from H's prediction
                  for stage2_steps; everything for stage3_steps at lr * lr_drop).
    stage3_steps: the third phase of the 'authors' schedule (0 in 'paper').
    lr_drop:      lr factor of the third phase (authors: 1e-4 -> 1e-5).
    val_every:    evaluate the validation split every this many steps (0: never); loss and IoU
                  go to TensorBoard ('val/...') and RUN_DIR/validation.json (not in the paper).
    val_samples:  at most this many validation samples per evaluation (the first ones, fixed).
    perturb_prob: probability that a training sample's body inputs are rebuilt from a perturbed
                  body fit (``thuman.synth.body_perturb``: fitting errors as augmentation; not in
                  the paper, whose training bodies were ground truth).
    perturb_scale: multiplies every perturbation level of ``body_perturb.DEFAULT_LEVELS``.
    """

    lr: float = 2e-4
    adam_betas: tuple = (0.9, 0.999)
    batch_size: int = 4
    stage1_steps: int = 20000
    stage2_steps: int = 10000
    seed: int = 0
    split: str = "train"
    num_workers: int = 2
    checkpoint_every: int = 500
    log_every: int = 20
    amp: str = "off"
    device: str = "auto"
    threads: int = 1
    schedule: str = "paper"
    stage3_steps: int = 0
    lr_drop: float = 0.1
    val_every: int = 500
    val_samples: int = 8
    perturb_prob: float = 0.0
    perturb_scale: float = 1.0


@dataclass
class RunConfig:
    net: NetConfig = field(default_factory=NetConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def total_steps(self) -> int:
        return self.train.stage1_steps + self.train.stage2_steps + self.train.stage3_steps

    def validate(self) -> "RunConfig":
        """Check values that would otherwise fail deep inside torch. Raises InputError."""
        n, t = self.net, self.train
        if n.vft not in VFT_MODES:
            raise InputError(None, f"config net.vft={n.vft!r}", f"use one of {', '.join(VFT_MODES)}")
        if n.representation not in REPRESENTATIONS:
            raise InputError(None, f"config net.representation={n.representation!r}",
                             f"use one of {', '.join(REPRESENTATIONS)}")
        if len(n.grid) != 3 or min(n.grid) < 2:
            raise InputError(None, f"config net.grid={n.grid!r}", "give (D, H, W), each >= 2")
        if t.batch_size < 1 or t.lr <= 0:
            raise InputError(None, "config train", "batch_size must be >= 1 and lr > 0")
        if n.norm not in NORMS:
            raise InputError(None, f"config net.norm={n.norm!r}", f"use one of {', '.join(NORMS)}")
        if n.kernel not in (4, 7):
            raise InputError(None, f"config net.kernel={n.kernel!r}", "use 4 (Table 1) or 7 (the authors' code)")
        if t.schedule not in SCHEDULES:
            raise InputError(None, f"config train.schedule={t.schedule!r}", f"use one of {', '.join(SCHEDULES)}")
        if t.schedule == "paper" and t.stage3_steps:
            raise InputError(None, "config train.stage3_steps", "the 'paper' schedule has two stages; "
                             "use train.schedule=authors for a third phase")
        if not 0.0 <= t.perturb_prob <= 1.0 or t.perturb_scale < 0:
            raise InputError(None, "config train.perturb_prob/perturb_scale", "give a probability in [0, 1] and a scale >= 0")
        if t.amp not in ("auto", "on", "off"):
            raise InputError(None, f"config train.amp={t.amp!r}", "use auto, on or off")
        return self


def to_dict(cfg: RunConfig) -> dict:
    """Plain nested dict (tuples as lists) for YAML/JSON/checkpoints."""
    def conv(v):
        if isinstance(v, tuple):
            return [conv(x) for x in v]
        return v
    return {k: {f.name: conv(getattr(getattr(cfg, k), f.name)) for f in dataclasses.fields(getattr(cfg, k))}
            for k in ("net", "loss", "train")}


def from_dict(data: dict, source: str | os.PathLike | None = None) -> RunConfig:
    """Build a RunConfig from a nested dict; unknown sections or keys are errors naming them."""
    cfg = RunConfig()
    for section, values in (data or {}).items():
        if section not in ("net", "loss", "train"):
            raise InputError(source, f"unknown config section {section!r}", "use net, loss or train")
        _apply(cfg, section, values or {}, source)
    return cfg.validate()


def _apply(cfg: RunConfig, section: str, values: dict, source) -> None:
    target = getattr(cfg, section)
    names = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in names:
            raise InputError(source, f"unknown config key {section}.{key}",
                             f"known keys: {', '.join(sorted(names))}")
        default = getattr(target, key)
        if isinstance(default, tuple) and isinstance(value, (list, tuple)):
            value = tuple(value)
        elif isinstance(default, str) and isinstance(value, bool):
            value = "on" if value else "off"      # YAML 1.1 reads on/off as booleans
        elif isinstance(default, float) and isinstance(value, (int, str)) and not isinstance(value, bool):
            # YAML 1.1 reads '1e-3' (no dot) as a string: take numbers as the field's type.
            try:
                value = float(value)
            except ValueError:
                raise InputError(source, f"config {section}.{key}={value!r}", "expected a number") from None
        elif type(default) is int and not isinstance(value, int):
            raise InputError(source, f"config {section}.{key}={value!r}", "expected an integer")
        setattr(target, key, value)


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | tuple = (),
                base: dict | None = None) -> RunConfig:
    """Load a YAML (.yaml/.yml) or TOML (.toml) file, then apply ``section.key=value`` overrides.

    Override values are parsed as YAML scalars/lists (``train.lr=1e-4``, ``net.grid=[32,48,32]``).
    ``base``: a saved config (``to_dict``) that the file and the overrides change, key by key
    (``thuman train --resume``); without it they change the defaults.
    """
    cfg = from_dict(base or {}, "saved config")
    for section, values in read_config_file(path).items():
        if section not in ("net", "loss", "train"):
            raise InputError(path, f"unknown config section {section!r}", "use net, loss or train")
        _apply(cfg, section, values or {}, path)
    apply_overrides(cfg, overrides)
    return cfg


def read_config_file(path: str | os.PathLike | None) -> dict:
    """The nested dict of a YAML/TOML config file ({} for None); InputError naming the file."""
    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(p, "config file not found")
        try:
            if p.suffix == ".toml":
                import tomllib
                data = tomllib.loads(p.read_text())
            else:
                import yaml
                data = yaml.safe_load(p.read_text()) or {}
        except Exception as e:  # a parser error is the user's file, not our bug
            raise InputError(p, f"cannot parse config: {e}") from e
    if not isinstance(data, dict):
        raise InputError(path, "a config file holds sections net, loss and train")
    return data


def apply_overrides(cfg: RunConfig, overrides) -> RunConfig:
    import yaml
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise InputError(None, f"override {item!r}", "write section.key=value, e.g. train.lr=1e-4")
        key, raw = item.split("=", 1)
        section, name = key.split(".", 1)
        if section not in ("net", "loss", "train"):
            raise InputError(None, f"override {item!r}", "section must be net, loss or train")
        _apply(cfg, section, {name: yaml.safe_load(raw)}, "command line")
    return cfg.validate()


def save_config(cfg: RunConfig, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    import yaml
    from thuman_io.atomic import atomic_write_text
    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def authors_config(cfg: RunConfig | None = None) -> RunConfig:
    """``cfg`` (default: the paper's) switched to what the authors' released code does
    (ZhengZerong/DeepHuman, docs/model.md "Paper and code"): BatchNorm, 7-wide kernels in G and H,
    R's output added to the projected normal, lambda_sil 0.02 and lambda_N 0.1, three phases with
    lr 1e-4 then 1e-5. Step counts stay ``cfg``'s (split: stage1, stage2, stage3 = all / 3)."""
    cfg = copy.deepcopy(cfg) if cfg is not None else RunConfig()
    cfg.net.norm, cfg.net.kernel, cfg.net.refiner_residual = "batch", 7, True
    cfg.loss.lambda_fs = cfg.loss.lambda_ss = 0.02
    cfg.loss.lambda_n = 0.1
    t = cfg.train
    total = t.stage1_steps + t.stage2_steps + t.stage3_steps
    t.schedule, t.lr, t.lr_drop = "authors", 1e-4, 0.1
    t.stage1_steps = total // 3
    t.stage2_steps = total // 3
    t.stage3_steps = total - 2 * (total // 3)
    return cfg.validate()


def small_config(**train_overrides) -> RunConfig:
    """The CPU preset: SMALL_GRID (32 x 48 x 32), Table 1 channels, 4 encoder levels."""
    from thuman_io.grid import SMALL_GRID
    cfg = RunConfig(net=NetConfig(grid=SMALL_GRID.shape))
    for k, v in train_overrides.items():
        setattr(cfg.train, k, v)
    return cfg.validate()
