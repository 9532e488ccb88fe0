"""A small synthetic frame source for the capture tests: the open body model, inflated 1 cm as
clothing, turning in front of the camera, then moving to each prompted pose. Frames are ray cast
(exact depth), so tracking and fusion are tested without the full simulator."""
import numpy as np
import trimesh

from thuman.capture.frames import Frame, FrameSource, GroundTruth
from thuman.capture.raycast import intrinsics, render_depth
from thuman_io.item import SMPLParams

W, H = 128, 160


class TurningBodySource(FrameSource):
    name = "synthetic"

    def __init__(self, bm, fps=5.0, turn_s=6.0, total_s=30.0, turn_rad=2 * np.pi, seed=0):
        super().__init__()
        self.bm, self.fps, self.turn_s, self.total_s, self.turn_rad = bm, fps, turn_s, total_s, turn_rad
        rng = np.random.default_rng(seed)
        self.betas = (rng.normal(size=10) * 0.5).astype(np.float32)
        self.transl = np.array([0.0, 0.1, -2.4], np.float32)
        self.K = intrinsics(W, H, 60.0)
        self.i = 0
        self.pose = np.zeros(72, np.float32)
        self.pose[16 * 3 + 2], self.pose[17 * 3 + 2] = -1.1, 1.1  # arms down (A-pose)
        self.start_pose, self.target, self.t_prompt = self.pose.copy(), None, None
        self.prompts = []

    def show_prompt(self, pose72, time_s):
        self.prompts.append((np.asarray(pose72).copy(), time_s))
        self.start_pose, self.target, self.t_prompt = self.pose.copy(), np.asarray(pose72, np.float32), time_s

    def _read(self):
        t = self.i / self.fps
        if t > self.total_s:
            return None
        if self.target is None:
            a = min(t / self.turn_s, 1.0) * self.turn_rad
            self.pose[1] = a if a < np.pi else a - 2 * np.pi
            stage = "turn"
        else:
            s = min((t - self.t_prompt) / 1.5, 1.0)
            self.pose = ((1 - s) * self.start_pose + s * self.target).astype(np.float32)
            self.pose[:3] = self.start_pose[:3] * (1 - s)
            stage = "imitate"
        out = self.bm.forward(self.betas[None], self.pose[None, :3], self.pose[None, 3:], self.transl[None])
        v, f = out.vertices[0], np.asarray(self.bm.faces)
        v = v + 0.01 * trimesh.Trimesh(v, f, process=False).vertex_normals
        depth = render_depth(v, f, self.K, H, W)
        color = np.zeros((H, W, 3), np.uint8)
        color[..., 0] = 180
        color[..., 1] = np.linspace(0, 255, H).astype(np.uint8)[:, None]
        gt = GroundTruth(vertices=v.astype(np.float32), faces=f.astype(np.int32),
                         smpl=SMPLParams(self.betas, self.pose[:3].copy(), self.pose[3:].copy(), self.transl),
                         joints=out.joints[0], stage=stage, reference_pose=self.target)
        frame = Frame(index=self.i, timestamp_us=int(round(t * 1e6)), color=color,
                      depth_mm=np.round(depth * 1000).astype(np.uint16), K=self.K, ground_truth=gt)
        self.i += 1
        return frame


def session_config(subject, **kw):
    """A small, fast SessionConfig for the session tests (coarse voxels, short intervals)."""
    from thuman.capture.fusion import FusionConfig
    from thuman.capture.postprocess import PostprocessConfig
    from thuman.capture.session import SessionConfig

    base = dict(subject=subject, poses=2, interval_s=1.0, coverage_target=0.5, max_turn_s=3.0,
                fusion=FusionConfig(voxel_size_m=0.025, mesh_every=4, shape_every=4),
                postprocess=PostprocessConfig(poisson_depth=6, target_edge_m=0.04, remesh_iterations=1))
    base.update(kw)
    return SessionConfig(**base)
