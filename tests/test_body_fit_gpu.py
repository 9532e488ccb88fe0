"""Body registration on CUDA: the same fit as on the CPU gives the same body. Skipped where no GPU
is present (run on a GPU host)."""
import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_fit_on_cuda_matches_cpu():
    from thuman.capture.sim.posed import posed_subject, random_pose
    from thuman_io.body import load_body_model
    from thuman_io.body.registration import FitConfig, FitStart, fit_body

    pose, transl = random_pose(230)
    s = posed_subject(230, pose, transl)
    start = FitStart(global_orient=pose[:3], body_pose=pose[3:] * 0.5, transl=transl + 0.05)
    cfg = FitConfig(iterations=(20, 40, 40))
    fits = [fit_body(load_body_model("open", device=d), s.vertices, s.faces, start=start, config=cfg)
            for d in ("cpu", "cuda")]
    assert np.abs(fits[0].vertices - fits[1].vertices).max() < 0.005
    assert np.linalg.norm(fits[1].vertices - s.body_vertices, axis=1).mean() < 0.02
