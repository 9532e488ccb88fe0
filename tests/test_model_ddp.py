"""Two CPU processes under torchrun (DistributedDataParallel, gloo) train like one process.

DDP averages the gradients of the processes and every loss term is a per-sample mean, so
2 processes x batch 2 follow 1 process x batch 4 (Table 1 has no normalisation layers).
"""
import os
import socket
import subprocess
import sys

import torch

from thuman.model.checkpoint import read_checkpoint
from thuman.model.config import small_config
from thuman.model.testing_data import write_analytic_corpus
from thuman.model.train import train
from thuman_io.grid import VolumeGrid
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)

OVERRIDES = ["train.stage1_steps=2", "train.stage2_steps=2", "train.num_workers=0", "train.lr=1e-3",
             "train.threads=1", "train.batch_size=4", "train.checkpoint_every=100"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_torchrun_matches_one_process(tmp_path):
    corpus = write_analytic_corpus(tmp_path / "corpus", VolumeGrid(16, 24, 16), 6, samples_per_subject=6)
    single = small_config(stage1_steps=2, stage2_steps=2, num_workers=0, lr=1e-3, threads=1,
                          checkpoint_every=100)
    train(single, corpus, tmp_path / "single", show_progress=False)

    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "thuman.model.train", str(corpus), str(tmp_path / "ddp"), "--no-progress", *OVERRIDES]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    a = read_checkpoint(tmp_path / "single")
    b = read_checkpoint(tmp_path / "ddp")
    assert a["step"] == b["step"] == 4
    for k, v in a["model"].items():
        assert torch.allclose(v, b["model"][k], rtol=1e-4, atol=1e-6), k
    # Adam's moments agree too, so a resumed DDP run continues like the single one.
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.allclose(sa["exp_avg"], sb["exp_avg"], rtol=1e-3, atol=1e-8)
