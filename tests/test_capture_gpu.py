"""Tracking and fusion on CUDA agree with the CPU (skipped without a GPU).

Frames are made without Open3D (GPU hosts may lack it): an analytic sphere for the TSDF, and a
z-buffer splat of densely sampled body-surface points for tracking and fusion."""
import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

W, H = 128, 160


def _K():
    f = 0.5 * H / np.tan(np.radians(30.0))
    return np.array([[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2], [0, 0, 1.0]])


def _sphere_depth(K, centre=(0.0, 0.0, -1.5), r=0.3):
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    d = np.stack([(u - K[0, 2]) / K[0, 0], -(v - K[1, 2]) / K[1, 1], -np.ones_like(u)], -1)  # capture frame, z=-1
    c = np.asarray(centre)
    b = d @ c
    a = (d * d).sum(-1)
    disc = b * b - a * (c @ c - r * r)
    t = (b - np.sqrt(np.maximum(disc, 0))) / a
    return np.where(disc > 0, t, 0.0).astype(np.float32)  # t along a ray with |z| = 1: depth


def _splat_depth(vertices, faces, K, n=400_000, seed=0):
    rng = np.random.default_rng(seed)
    tri = vertices[faces[rng.integers(0, len(faces), n)]]
    a, b = rng.random((2, n, 1))
    flip = (a + b) > 1
    a, b = np.where(flip, 1 - a, a), np.where(flip, 1 - b, b)
    p = tri[:, 0] + a * (tri[:, 1] - tri[:, 0]) + b * (tri[:, 2] - tri[:, 0])
    z = -p[:, 2]
    u = np.round(K[0, 0] * p[:, 0] / z + K[0, 2]).astype(int)
    v = np.round(-K[1, 1] * p[:, 1] / z + K[1, 2]).astype(int)
    ok = (u >= 0) & (u < W) & (v >= 0) & (v < H)
    depth = np.full(H * W, np.inf)
    np.minimum.at(depth, v[ok] * W + u[ok], z[ok])
    return np.where(np.isfinite(depth), depth, 0).reshape(H, W).astype(np.float32)


def test_integrate_cuda_matches_cpu():
    from thuman.capture.tsdf import TSDFVolume, extract_mesh, integrate

    K = _K()
    depth = torch.from_numpy(_sphere_depth(K))
    vols = []
    for dev in ("cpu", "cuda"):
        v = TSDFVolume.create([-0.5, -0.5, -2.0], 1.0, 0.02, device=dev)
        integrate(v, depth.to(dev), K)
        vols.append(v)
    assert torch.allclose(vols[0].tsdf, vols[1].tsdf.cpu(), atol=1e-5)
    assert torch.equal(vols[0].weight, vols[1].weight.cpu())
    m = extract_mesh(vols[1])
    r = np.linalg.norm(m.vertices - np.array([0, 0, -1.5]), axis=1)
    assert len(m.faces) > 500 and np.abs(r - 0.3).max() < 0.02


def test_double_fusion_cuda_tracks_like_cpu():
    from thuman.capture.frames import Frame
    from thuman.capture.fusion import DoubleFusion, FusionConfig
    from thuman_io.body import load_body_model

    K = _K()
    betas = np.zeros((1, 10), np.float32)
    betas[0, :2] = 0.5, -0.3
    transl = np.array([[0.0, 0.1, -2.4]], np.float32)
    joints, errors = {}, {}
    for dev in ("cpu", "cuda"):
        bm = load_body_model("open", device=dev)
        # mesh_every=3: the fused surface becomes the body's model points from frame 4 on.
        fus = DoubleFusion(bm, FusionConfig(voxel_size_m=0.02, device=dev, mesh_every=3))
        fus.planes = []  # no room in these frames
        for i in range(6):
            pose = np.zeros((1, 72), np.float32)
            pose[0, 1] = 0.12 * i
            pose[0, 16 * 3 + 2], pose[0, 17 * 3 + 2] = -1.0, 1.0
            out = bm.forward(betas, pose[:, :3], pose[:, 3:], transl)
            depth = _splat_depth(out.vertices[0], np.asarray(bm.faces), K)
            frame = Frame(index=i, timestamp_us=i * 200_000, color=np.full((H, W, 3), 128, np.uint8),
                          depth_mm=np.round(depth * 1000).astype(np.uint16), K=K)
            fus.process(frame)
        joints[dev] = fus.body.joints
        errors[dev] = np.linalg.norm(fus.body.joints - out.joints[0], axis=1).mean()
        assert len(fus.live_mesh().faces) > 1000
        assert fus._surf_fused
    assert errors["cuda"] < 0.03 and errors["cpu"] < 0.03, errors
    assert np.abs(joints["cpu"] - joints["cuda"]).max() < 0.02


def test_visibility_cuda_matches_cpu():
    from thuman.capture.visibility import unoccluded

    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.uniform([-0.3, -0.8, -2.1], [0.3, 0.8, -2.0], (5000, 3)),
                          rng.uniform([-0.5, -0.2, -2.4], [0.5, 0.2, -2.2], (5000, 3))])
    cpu = unoccluded(torch.as_tensor(pts), _K())
    cuda = unoccluded(torch.as_tensor(pts, device="cuda"), _K()).cpu()
    assert torch.equal(cpu, cuda) and 0 < int(cpu.sum()) < len(pts)
