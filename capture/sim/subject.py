"""The simulated subject: the open body model with shape from betas, clothing, hair and a texture.

Clothing is what real captures have and SMPL lacks. Each garment is a signed-distance shell in the
canonical pose (the model's T-pose with the subject's betas):

- shirt / dress top: the body's SDF offset outwards by a looseness that grows towards the hem,
  over the torso and the upper arms (sleeve length from the outfit);
- trousers (or shorts): the SDF offset over legs and hips down to the hem;
- skirt (or the dress's skirt): a flared elliptic cone from the waist to the hem, around both legs;
- hair: an ellipsoid around the skull, cut away from the face, longer at the back for long hair,
  with a ponytail for tied hair;
- shoes: a thin shell on the feet;
- jacket / coat / hoodie (the 'thuman' wardrobe): the SDF offset by the outer looseness over the
  torso and both arms to the wrists, down to the hips; a coat continues below the hips as a
  flared cone to the knees; an open front is cut away in a vertical slot over the chest and
  belly; a hoodie's hood is an ellipsoid lying on the upper back; wide trousers grow their offset
  from the hips to the hem.

They are unioned with the body (min of SDFs), meshed once by marching cubes (closed, watertight),
coloured per garment with a pattern, and skinned by the LBS weights of the nearest body vertices
(inverse-distance average of the k nearest; skirts and hair average over more vertices so that they
follow the pelvis and head instead of tearing between the legs). Per frame the mesh is posed by
linear blend skinning (:func:`pose_vertices`), like the body.

Everything is derived from a seed: betas, garment set, colours (:func:`sample_outfit` from the
subject's wardrobe).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from thuman.capture.sim.outfit import Outfit, sample_betas, sample_outfit
from thuman_io.body.joints import JOINT_NAMES, PARENTS
from thuman_io.body.kinematics import rigid_transforms
from thuman_io.body.numpy_lbs import rodrigues
from thuman_io.errors import BodyModelError

J = {n: i for i, n in enumerate(JOINT_NAMES)}
_TORSO = [J[n] for n in ("pelvis", "spine1", "spine2", "spine3", "left_collar", "right_collar", "neck")]
_UPPER_ARM = [J["left_shoulder"], J["right_shoulder"]]
_FOREARM = [J["left_elbow"], J["right_elbow"]]
_HAND = [J[n] for n in ("left_wrist", "right_wrist", "left_hand", "right_hand")]
_THIGH = [J["left_hip"], J["right_hip"]]
_SHIN = [J["left_knee"], J["right_knee"]]
_FOOT = [J[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]

#: Surface labels of the clothed mesh (vertex -> what it is), for colour and skinning.
LABELS = ("skin", "shirt", "trousers", "skirt", "hair", "shoes", "outer")
SKIN, SHIRT, TROUSERS, SKIRT, HAIR, SHOES, OUTER = range(7)


@dataclass
class BodyRig:
    """The body model at one shape, in its canonical (rest) pose. Metres, SMPL frame.

    vertices (V, 3) float32 rest vertices with betas applied; faces (F, 3) int64; weights (V, 24)
    float32 LBS weights; joints (24, 3) float64 rest joints; parents (24,) int64; betas (B,) float32.
    """

    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    joints: np.ndarray
    parents: np.ndarray
    betas: np.ndarray
    model: str = "open"


def lbs_weights(bm) -> np.ndarray:
    """(V, 24) float32 skinning weights of a body model from ``load_body_model`` (``bm.weights``)."""
    w = getattr(bm, "weights", None)
    if w is None:
        raise BodyModelError(f"body model {getattr(bm, 'name', bm)!r} exposes no skinning weights ('weights')")
    return np.asarray(w, dtype=np.float32)


def body_rig(bm, betas: np.ndarray) -> BodyRig:
    """The rig of body model ``bm`` (from ``load_body_model``) at shape ``betas`` (B,)."""
    betas = np.asarray(betas, dtype=np.float32).reshape(1, -1)
    out = bm.forward(betas=betas)
    return BodyRig(vertices=np.asarray(out.vertices[0], np.float32), faces=np.asarray(bm.faces, np.int64),
                   weights=lbs_weights(bm), joints=np.asarray(out.joints[0], np.float64),
                   parents=np.asarray(bm.parents, np.int64).reshape(-1), betas=betas[0],
                   model=str(getattr(bm, "name", "open")))


# ---------------------------------------------------------------------------------------------
# the clothed canonical mesh

@dataclass
class ClothedSubject:
    """A clothed subject in its canonical pose, ready to be posed every frame.

    vertices (V, 3) float32 metres; faces (F, 3) int32 (closed, watertight); colors (V, 3) uint8;
    labels (V,) int8 (LABELS); weights (V, 24) float32 skinning weights; rig: the body underneath;
    outfit; seed.
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    rig: BodyRig
    outfit: Outfit
    seed: int = 0


def _signed_distance(rig: BodyRig, points: np.ndarray) -> np.ndarray:
    """(N,) float32 signed distance (negative inside) of points (N, 3) to the body mesh."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(rig.vertices, np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(rig.faces, np.uint32)))
    return scene.compute_signed_distance(o3d.core.Tensor(np.ascontiguousarray(points, np.float32))).numpy()


def _body_sdf_grid(rig: BodyRig, origin: np.ndarray, shape: tuple, voxel: float, band: tuple[float, float]):
    """Body SDF on a grid, exact within ``band`` (lo, hi) metres of the surface, coarse elsewhere.

    Exact distances everywhere cost seconds per subject; the garments only need them near the
    body, so a 4x coarser grid finds the band and only band voxels are evaluated exactly.
    Returns (sdf (D0, D1, D2) float32, band mask (D0, D1, D2) bool).
    """
    from scipy.ndimage import map_coordinates

    step = 4
    cshape = tuple(int(np.ceil((s - 1) / step)) + 1 for s in shape)
    caxes = [origin[i] + voxel * step * np.arange(cshape[i]) for i in range(3)]
    cp = np.stack(np.meshgrid(*caxes, indexing="ij"), -1).reshape(-1, 3)
    csdf = _signed_distance(rig, cp).reshape(cshape)
    fine = np.stack(np.meshgrid(*[np.arange(s) / step for s in shape], indexing="ij"))
    approx = map_coordinates(csdf, fine.reshape(3, -1), order=1, mode="nearest").reshape(shape)
    slack = voxel * step * np.sqrt(3)
    mask = (approx > band[0] - slack) & (approx < band[1] + slack)
    idx = np.nonzero(mask)
    pts = origin + voxel * np.stack(idx, axis=1)
    sdf = approx.astype(np.float32)
    sdf[idx] = _signed_distance(rig, pts)
    return sdf, mask


def _pattern(kind: str, p: np.ndarray, period: float = 0.06) -> np.ndarray:
    """(N,) brightness factor of a textile pattern at canonical points p (N, 3)."""
    if kind == "stripes":
        return np.where(np.sin(2 * np.pi * p[:, 1] / period) > 0, 1.0, 0.72)
    if kind == "checks":
        a = np.floor(p[:, 0] / period) + np.floor(p[:, 1] / period) + np.floor(p[:, 2] / period)
        return np.where(a % 2 == 0, 1.0, 0.75)
    if kind == "print":      # a dotted print: dots on a staggered lattice
        q = p / (0.6 * period)
        d = (q - np.round(q)) ** 2
        return np.where(d.sum(axis=1) < 0.09, 0.55, 1.0)
    return np.ones(len(p))


def _colorize(v: np.ndarray, labels: np.ndarray, outfit: Outfit, rig: BodyRig, rng: np.random.Generator) -> np.ndarray:
    col = np.zeros((len(v), 3), np.float64)
    base = {SKIN: outfit.skin_color, SHIRT: outfit.shirt_color, TROUSERS: outfit.trousers_color,
            SKIRT: outfit.skirt_color, HAIR: outfit.hair_color, SHOES: outfit.shoes_color,
            OUTER: outfit.outer_color}
    for lab, c in base.items():
        col[labels == lab] = c
    f = np.ones(len(v))
    f[labels == SHIRT] = _pattern(outfit.shirt_pattern, v[labels == SHIRT])
    f[labels == SKIRT] = _pattern(outfit.skirt_pattern, v[labels == SKIRT], 0.08)
    f[labels == OUTER] = _pattern(outfit.outer_pattern, v[labels == OUTER], 0.1)
    grain = {TROUSERS: 0.10, HAIR: 0.25, SKIN: 0.03}  # denim grain, hair strands, skin mottling
    for lab, g in grain.items():
        sel = labels == lab
        f[sel] *= 1.0 + g * (rng.random(sel.sum()) - 0.5)
    # A face, so that front and back differ in colour: eyes, brows and a mouth.
    head = rig.joints[J["head"]]
    front = (labels == SKIN) & (v[:, 2] > head[2] + 0.06) & (v[:, 1] > head[1] - 0.08)
    for dx in (-0.032, 0.032):
        eye = front & ((v[:, 0] - dx) ** 2 + ((v[:, 1] - head[1] - 0.045) / 0.7) ** 2 < 0.011 ** 2)
        col[eye] = (250, 250, 250)
        pupil = front & ((v[:, 0] - dx) ** 2 + (v[:, 1] - head[1] - 0.045) ** 2 < 0.006 ** 2)
        col[pupil] = (30, 25, 20)
        brow = front & (np.abs(v[:, 0] - dx) < 0.018) & (np.abs(v[:, 1] - head[1] - 0.068) < 0.004)
        col[brow] = outfit.hair_color
    mouth = front & (np.abs(v[:, 0]) < 0.022) & (np.abs(v[:, 1] - head[1] + 0.02) < 0.005)
    col[mouth] = (150, 60, 60)
    return np.clip(col * f[:, None], 0, 255).astype(np.uint8)


def build_clothed_subject(rig: BodyRig, outfit: Outfit, voxel_m: float = 0.01, seed: int = 0) -> ClothedSubject:
    """Build the clothed canonical mesh of ``rig`` wearing ``outfit`` (seconds; cache the result).

    voxel_m: marching-cubes voxel (metres); 1 cm resolves fingers poorly but clothing well.
    """
    from scipy.spatial import cKDTree
    from skimage.measure import marching_cubes

    v, Jr = rig.vertices.astype(np.float64), rig.joints
    part = rig.weights.argmax(axis=1)
    lo, hi = v.min(0) - 0.15, v.max(0) + 0.15
    shape = tuple(int(np.ceil((hi[i] - lo[i]) / voxel_m)) + 1 for i in range(3))
    # The band of exact distances reaches past the loosest offset (0.10 m for the basic wardrobe).
    reach = max(outfit.shirt_loose + 0.012, outfit.outer_loose + 0.02 if outfit.outer else 0.0,
                outfit.trousers_wide + 0.013)
    sdf_body, band = _body_sdf_grid(rig, lo, shape, voxel_m, (-0.05, max(0.10, reach + 0.02)))
    grid = lo + voxel_m * np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    x, y, z = grid[..., 0], grid[..., 1], grid[..., 2]

    # Which body part each band voxel is nearest to: garments cover parts.
    tree = cKDTree(v)
    near = np.full(shape, -1, np.int64)
    near[band] = part[tree.query(grid[band], k=1, workers=-1)[1]]
    inf = np.float32(np.inf)
    terms = {SKIN: sdf_body}

    pelvis, spine1, neck = Jr[J["pelvis"]], Jr[J["spine1"]], Jr[J["neck"]]
    ankle_y, knee_y = Jr[J["left_ankle"]][1], Jr[J["left_knee"]][1]
    hip_y = Jr[J["left_hip"]][1]
    waist_y = 0.5 * (pelvis[1] + spine1[1])

    # Shirt: torso + upper arms (+ forearms for long sleeves), looser towards the hem.
    sh_x, wr_x = abs(Jr[J["left_shoulder"]][0]), abs(Jr[J["left_wrist"]][0])
    sleeve_x = sh_x + outfit.sleeve * (wr_x - sh_x) if outfit.sleeve > 0 else sh_x - 0.02
    hem_y = pelvis[1] - 0.12
    arms = np.isin(near, _UPPER_ARM + _FOREARM) & (np.abs(x) < sleeve_x)
    covered = (np.isin(near, _TORSO + _THIGH) | arms) & (y > hem_y) & (y < neck[1] - 0.04)
    loose = 0.012 + outfit.shirt_loose * np.clip((Jr[J["spine2"]][1] - y) / (Jr[J["spine2"]][1] - hem_y), 0, 1)
    loose = np.where(np.abs(x) > sh_x, 0.012 + 0.01 * np.clip((np.abs(x) - sh_x) / 0.2, 0, 1), loose)
    terms[SHIRT] = np.where(covered, sdf_body - loose, inf)

    # Trousers or shorts: hips and legs down to the hem.
    if outfit.trousers:
        t_hem = ankle_y + 0.04 if outfit.trousers == "long" else knee_y + 0.12
        covered = np.isin(near, _THIGH + _SHIN + _FOOT + [J["pelvis"], J["spine1"]]) & (y > t_hem) & (y < waist_y)
        offset = 0.013
        if outfit.trousers_wide > 0:      # wide legs: looser from the hips to the hem
            offset = 0.013 + outfit.trousers_wide * np.clip((hip_y - y) / (hip_y - t_hem), 0, 1)
        terms[TROUSERS] = np.where(covered, sdf_body - offset, inf)

    # Skirt: a flared elliptic cone from the waist to the hem around both legs.
    if outfit.skirt_length is not None:
        top = waist_y if not outfit.dress else hem_y + 0.06
        bottom = hip_y - outfit.skirt_length * (hip_y - ankle_y)
        ring = v[np.abs(v[:, 1] - hip_y + 0.05) < 0.03]
        cz = 0.5 * (ring[:, 2].max() + ring[:, 2].min())
        a0 = np.abs(ring[:, 0]).max() + 0.02
        b0 = 0.5 * (ring[:, 2].max() - ring[:, 2].min()) + 0.02
        grow = 1.0 + outfit.skirt_flare * np.clip((top - y) / max(top - bottom, 1e-3), 0, 1) * 1.5
        rho = np.sqrt((x / (a0 * grow)) ** 2 + ((z - cz) / (b0 * grow)) ** 2)
        cone = (rho - 1.0) * b0 * grow
        terms[SKIRT] = np.maximum.reduce([cone, y - top, bottom - y]).astype(np.float32)

    # Hair: an ellipsoid around the skull, cut away from the face; long hair reaches the shoulders.
    hv = v[part == J["head"]]
    hc = 0.5 * (hv.min(0) + hv.max(0))
    hr = 0.5 * (hv.max(0) - hv.min(0))
    head = Jr[J["head"]]
    long_hair = outfit.hair == "long"
    centre = np.array([hc[0], hc[1] + 0.012 - (0.07 if long_hair else 0.0), hc[2] - 0.03])
    radii = np.array([hr[0] + 0.025, hr[1] + 0.025 + (0.07 if long_hair else 0.0), hr[2] + 0.02])
    ell = (np.sqrt(((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2
                   + ((z - centre[2]) / radii[2]) ** 2) - 1.0) * radii.min()
    forehead = head[1] + 0.085
    face_ok = np.maximum(head[2] - z, y - forehead)            # > 0: behind the face or above the brow
    ear_y = head[1] - 0.01
    sides_ok = np.maximum(y - ear_y, head[2] - 0.045 - z)      # below the ears: only at the back
    bottom = neck[1] - 0.14 if long_hair else ear_y - 0.03
    terms[HAIR] = np.maximum.reduce([ell, -face_ok, -sides_ok, bottom - y]).astype(np.float32)
    if outfit.hair == "tied":     # a ponytail hanging from the back of the head
        tail_c = np.array([hc[0], head[1] - 0.03, hc[2] - hr[2] - 0.025])
        tail_r = np.array([0.035, 0.09, 0.035])
        tail = (np.sqrt(((x - tail_c[0]) / tail_r[0]) ** 2 + ((y - tail_c[1]) / tail_r[1]) ** 2
                        + ((z - tail_c[2]) / tail_r[2]) ** 2) - 1.0) * tail_r.min()
        terms[HAIR] = np.minimum(terms[HAIR], tail.astype(np.float32))

    if outfit.outer is not None:
        terms[OUTER] = _outer_garment(outfit, sdf_body, near, x, y, z, v, Jr, hem_y, hip_y, knee_y)

    # Shoes: a thin shell over the feet.
    covered = np.isin(near, _FOOT) & (y < ankle_y + 0.03)
    terms[SHOES] = np.where(covered, sdf_body - 0.008, inf)

    labels_order = list(terms)
    stack = np.stack([terms[k] for k in labels_order])
    sdf = stack.min(axis=0)
    sdf = np.where(np.isfinite(sdf), sdf, 1.0).astype(np.float32)
    verts, faces, _, _ = marching_cubes(sdf, 0.0, spacing=(voxel_m,) * 3)
    # skimage's default (gradient 'descent') winds the faces counter-clockwise seen from outside for a
    # negative-inside field on an (x, y, z)-indexed grid.
    verts = verts + lo
    verts, faces = _largest_component(verts, faces)

    # Label each vertex by the term that is lowest at its nearest voxel.
    ijk = np.clip(np.round((verts - lo) / voxel_m).astype(int), 0, np.array(shape) - 1)
    which = np.argmin(stack[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]], axis=0)
    labels = np.array(labels_order)[which].astype(np.int8)

    # Skinning: inverse-distance average of the k nearest body vertices' weights.
    # a coat's skirt follows the pelvis like a skirt; its upper part and sleeves like a shirt
    flowing = np.isin(labels, [SKIRT, HAIR]) | ((labels == OUTER) & (verts[:, 1] < hip_y))
    k_near = np.where(flowing, 24, 4)
    d, nn = tree.query(verts, k=24, workers=-1)
    wgt = 1.0 / np.maximum(d, 1e-4)
    wgt[np.arange(24)[None, :] >= k_near[:, None]] = 0.0
    weights = np.einsum("vk,vkj->vj", wgt, rig.weights[nn]) / wgt.sum(1, keepdims=True)
    colors = _colorize(verts, labels, outfit, rig, np.random.default_rng([seed, 0xC0102]))
    return ClothedSubject(vertices=verts.astype(np.float32), faces=faces.astype(np.int32), colors=colors,
                          labels=labels, weights=weights.astype(np.float32), rig=rig, outfit=outfit, seed=seed)


def _outer_garment(outfit: Outfit, sdf_body, near, x, y, z, v, Jr, hem_y: float, hip_y: float,
                   knee_y: float) -> np.ndarray:
    """SDF of a jacket, coat or hoodie (float32, the grid's shape): the body offset by the outer
    looseness over the torso and the whole arms, from the neck to the hips; a coat's flared
    skirt to the knees; an open front slot; a hoodie's hood. Metres, canonical pose."""
    neck, spine2 = Jr[J["neck"]], Jr[J["spine2"]]
    wr_x = abs(Jr[J["left_wrist"]][0]) - 0.03
    bottom = hem_y + 0.04 if outfit.outer != "hoodie" else hem_y + 0.02
    arms = np.isin(near, _UPPER_ARM + _FOREARM) & (np.abs(x) < wr_x)
    covered = (np.isin(near, _TORSO + _THIGH) | arms) & (y > bottom) & (y < neck[1] - 0.02)
    loose = 0.02 + outfit.outer_loose * np.clip((spine2[1] + 0.1 - y) / (spine2[1] + 0.1 - bottom), 0.3, 1)
    loose = np.where(np.abs(x) > abs(Jr[J["left_shoulder"]][0]), 0.02 + 0.4 * outfit.outer_loose, loose)
    inf = np.float32(np.inf)
    sdf = np.where(covered, sdf_body - loose, inf).astype(np.float32)
    if outfit.outer == "coat":    # below the hips: a flared cone around both legs to the knees
        top, low = bottom + 0.02, knee_y - 0.06
        ring = v[np.abs(v[:, 1] - hip_y + 0.05) < 0.03]
        cz = 0.5 * (ring[:, 2].max() + ring[:, 2].min())
        a0 = np.abs(ring[:, 0]).max() + 0.02 + outfit.outer_loose
        b0 = 0.5 * (ring[:, 2].max() - ring[:, 2].min()) + 0.02 + outfit.outer_loose
        grow = 1.0 + 0.25 * np.clip((top - y) / max(top - low, 1e-3), 0, 1)
        cone = (np.sqrt((x / (a0 * grow)) ** 2 + ((z - cz) / (b0 * grow)) ** 2) - 1.0) * b0 * grow
        sdf = np.minimum(sdf, np.maximum.reduce([cone, y - top - 0.04, low - y]).astype(np.float32))
    if outfit.outer_open:         # the front hangs open over the chest and belly
        gap = 0.06
        keep = np.maximum(np.abs(x) - gap, spine2[2] - z)      # > 0 outside the slot
        sdf = np.maximum(sdf, -keep).astype(np.float32)
    if outfit.outer == "hoodie":  # the hood, lying on the upper back below the neck
        c = np.array([neck[0], neck[1] - 0.02, neck[2] - 0.11])
        r = np.array([0.12, 0.09, 0.06])
        hood = (np.sqrt(((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2) - 1.0) * r.min()
        sdf = np.minimum(sdf, hood.astype(np.float32))
    return sdf


def _largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the connected component with the most faces (marching cubes can leave specks)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(verts)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    _, comp = connected_components(coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)), directed=False)
    best = np.bincount(comp[faces[:, 0]]).argmax()
    keep_v = comp == best
    remap = np.cumsum(keep_v) - 1
    f = faces[keep_v[faces[:, 0]]]
    return verts[keep_v], remap[f]


# ---------------------------------------------------------------------------------------------
# posing

def skinning_transforms(rig: BodyRig, pose72: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint skinning transforms of a pose.

    pose72: (72,) axis-angle radians (global orientation first). Returns (A (24, 3, 4) float64 acting
    on rest-pose coordinates, posed joints (24, 3) float64), both before translation.
    """
    rot = rodrigues(np.asarray(pose72, np.float64).reshape(24, 3))
    g, a = rigid_transforms(rot, np.asarray(rig.joints, np.float64), rig.parents)
    return a[:, :3, :].copy(), g[:, :3, 3].copy()


def pose_vertices(vertices: np.ndarray, weights: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Linear blend skinning: vertices (V, 3) rest, weights (V, 24), A (24, 3, 4) -> (V, 3) float32."""
    t = weights @ A.reshape(24, 12).astype(np.float32)  # (V, 12): each vertex's blended 3x4 transform
    x, y, z = (np.asarray(vertices, np.float32)[:, k] for k in range(3))
    return np.stack([t[:, 4 * r] * x + t[:, 4 * r + 1] * y + t[:, 4 * r + 2] * z + t[:, 4 * r + 3]
                     for r in range(3)], axis=1)


def make_subject(seed: int, body_model: str = "open", voxel_m: float = 0.01, disk_cache: bool = True,
                 wardrobe: str = "basic") -> ClothedSubject:
    """The clothed subject of ``seed`` (betas, outfit, colours from the seed) dressed from
    ``wardrobe`` ('basic' or 'thuman', see :mod:`thuman.capture.sim.outfit`).

    Cached per process, and on disk (``$THUMAN_CACHE``, else ``~/.cache/thuman``, folder ``sim``)
    under a key that covers the seed, the voxel size, the body model's arrays and this module's
    source, so a stale entry cannot be used: building takes seconds, loading milliseconds.
    """
    return _make_subject(int(seed), str(body_model), float(voxel_m), bool(disk_cache), str(wardrobe))


@functools.lru_cache(maxsize=8)
def _make_subject(seed: int, body_model: str, voxel_m: float, disk_cache: bool, wardrobe: str = "basic") -> ClothedSubject:
    import hashlib
    from pathlib import Path

    from thuman_io.body import load_body_model

    rng = np.random.default_rng([seed, 0x5B7EC7])
    bm = load_body_model(body_model)
    betas = sample_betas(rng, int(getattr(bm, "num_betas", 10)))
    outfit = sample_outfit(rng, wardrobe)
    rig = body_rig(bm, betas)
    h = hashlib.sha256(Path(__file__).read_bytes())
    for a in (rig.vertices, rig.faces, rig.weights, rig.joints, np.array([seed, voxel_m])):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr(outfit).encode())
    path = None
    if disk_cache:
        from thuman_io.body.model_files import cache_dir

        tag = "" if wardrobe == "basic" else f"{wardrobe}-"
        path = cache_dir() / "sim" / f"subject-{tag}{seed}-{h.hexdigest()[:20]}.npz"
        if path.is_file():
            try:
                with np.load(path) as d:
                    return ClothedSubject(vertices=d["vertices"], faces=d["faces"], colors=d["colors"],
                                          labels=d["labels"], weights=d["weights"], rig=rig, outfit=outfit, seed=seed)
            except Exception:  # unreadable cache entry: build again and replace it
                pass
    subject = build_clothed_subject(rig, outfit, voxel_m=voxel_m, seed=seed)
    if path is not None:
        from thuman_io.atomic import atomic_path

        try:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, vertices=subject.vertices, faces=subject.faces, colors=subject.colors,
                             labels=subject.labels, weights=subject.weights)
        except OSError:
            pass  # a read-only cache only costs time
    return subject


__all__ = ["BodyRig", "ClothedSubject", "Outfit", "LABELS", "body_rig", "build_clothed_subject",
           "make_subject", "pose_vertices", "sample_betas", "sample_outfit", "skinning_transforms", "PARENTS"]
