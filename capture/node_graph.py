"""The outer layer of DoubleFusion: an embedded-deformation node graph on the canonical surface.

Nodes g_k are sampled on the canonical surface (first the canonical body, DoubleFusion's
"on-body" nodes; later also the fused surface where it leaves the body, its "far-body" nodes).
Each node carries a small non-rigid correction E_k(x) = R_k (x - g_k) + g_k + t_k (Sumner et al.
2007) and a skinning transform S_k from the body layer (its weights are those of the nearest body
vertices). A canonical point x moves to the live frame by

    W(x) = sum_k w_k(x) S_k E_k(x),    w_k(x) ∝ exp(-|x - g_k|^2 / (2 r^2)) over its K nearest nodes,

so that the body layer carries the large articulated motion and the node graph only the
residual of clothing and body-shape error (DoubleFusion sec. 4). The corrections are fitted to
depth with a point-to-plane data term and regularised as rigid as possible between neighbouring
nodes (E_reg of DynamicFusion eq. 9), plus a weak pull toward zero correction (DoubleFusion's
binding of the outer layer to the body). Adam on all nodes at once, a few steps per frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from thuman.capture.warp import rodrigues


@dataclass
class NodeGraph:
    """Nodes in the canonical frame (metres) and their corrections.

    positions:   (N, 3) float32 canonical node positions g_k.
    neighbours:  (N, Kn) int64 the nearest other nodes (regularisation edges).
    skin:        (N, 24) float32 body skinning weights of each node.
    rotations:   (N, 3) float32 axis-angle R_k (radians). translations: (N, 3) float32 t_k, metres.
    radius_m:    node sampling radius r (spacing and weight falloff).
    """

    positions: torch.Tensor
    neighbours: torch.Tensor
    skin: torch.Tensor
    rotations: torch.Tensor
    translations: torch.Tensor
    radius_m: float

    @property
    def num_nodes(self) -> int:
        return int(self.positions.shape[0])


def sample_nodes(points: np.ndarray, radius_m: float, existing: Optional[np.ndarray] = None) -> np.ndarray:
    """Greedy Poisson-disk sampling: (P, 3) surface points -> (M, 3) new nodes at least
    ``radius_m`` from each other and from ``existing`` (Q, 3) nodes. Deterministic (point order)."""
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64)
    # Snap to a grid of radius/2 first: one candidate per cell keeps the greedy loop short.
    cells = np.floor(pts / (0.5 * radius_m)).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    cand = pts[np.sort(first)]
    chosen = [] if existing is None else [np.asarray(e, dtype=np.float64) for e in existing]
    tree_pts = list(chosen)
    out = []
    tree = cKDTree(np.array(tree_pts)) if tree_pts else None
    pending = []
    for p in cand:
        if tree is not None and tree.query(p, k=1)[0] < radius_m:
            continue
        if pending and np.min(np.linalg.norm(np.array(pending) - p, axis=1)) < radius_m:
            continue
        pending.append(p)
        out.append(p)
        if len(pending) >= 256:  # rebuild the tree now and then rather than per point
            tree_pts.extend(pending)
            tree = cKDTree(np.array(tree_pts))
            pending = []
    return np.array(out, dtype=np.float32).reshape(-1, 3)


def build_graph(node_positions: np.ndarray, body_vertices: np.ndarray, body_weights: np.ndarray,
                radius_m: float, num_neighbours: int = 8, device="cpu") -> NodeGraph:
    """A graph over given canonical node positions (M, 3); skinning weights from the 4 nearest
    canonical body vertices (V, 3) with weights (V, 24). Corrections start at zero."""
    from scipy.spatial import cKDTree

    pos = np.asarray(node_positions, dtype=np.float32)
    kn = min(num_neighbours + 1, len(pos))
    _, nb = cKDTree(pos).query(pos, k=kn)
    nb = np.asarray(nb).reshape(len(pos), kn)[:, 1:]
    d, vi = cKDTree(body_vertices).query(pos, k=4)
    w = np.exp(-(d ** 2) / (2 * radius_m ** 2))[..., None] * body_weights[vi]
    skin = w.sum(1)
    skin /= np.maximum(skin.sum(1, keepdims=True), 1e-12)
    t = lambda a, dt=torch.float32: torch.as_tensor(np.asarray(a), dtype=dt, device=device)
    return NodeGraph(positions=t(pos), neighbours=t(nb, torch.long), skin=t(skin),
                     rotations=torch.zeros(len(pos), 3, device=device),
                     translations=torch.zeros(len(pos), 3, device=device), radius_m=float(radius_m))


def nearest_nodes(positions: torch.Tensor, points: torch.Tensor, k: int = 4, chunk: int = 65536):
    """The ``k`` nearest of the nodes ``positions`` (N, 3) to each point (P, 3), metres.

    Returns (dist (P, k) metres, ascending, float64 on CPU (a k-d tree) and the points' dtype on
    CUDA (all pairwise distances); idx (P, k) int64). k is at most N."""
    k = min(k, len(positions))
    if points.device.type == "cpu":  # a k-d tree: far cheaper than all pairwise distances
        from scipy.spatial import cKDTree

        dk, ik = cKDTree(positions.numpy()).query(points.numpy(), k=k)
        return (torch.as_tensor(np.asarray(dk, dtype=np.float64).reshape(len(points), k)),
                torch.as_tensor(np.asarray(ik, dtype=np.int64).reshape(len(points), k)))
    d_all, i_all = [], []
    for s in range(0, len(points), chunk):
        dk, ik = torch.topk(torch.cdist(points[s:s + chunk], positions), k, dim=1, largest=False)
        d_all.append(dk)
        i_all.append(ik)
    return torch.cat(d_all), torch.cat(i_all)


def add_nearest_nodes(positions: torch.Tensor, points: torch.Tensor, dist: torch.Tensor, idx: torch.Tensor,
                      first_new: int, k: int = 4):
    """:func:`nearest_nodes` after nodes were appended, updating only the points they come near.

    positions (N, 3): all nodes, those from ``first_new`` on new (the old keep their indices);
    dist / idx (P, k): the points' nearest among the old nodes (as :func:`nearest_nodes` gave them).
    The k nearest of all nodes are the k nearest of the union of the old k and the new nodes' k
    nearest, and only a point nearer to some new node than to its k-th old one can change: the
    fusion band's 445k voxels are re-queried against the few new nodes only (DoubleFusion grows its
    node graph the same way, without rebuilding the voxels' node lists). Exact: the same nodes and
    distances as :func:`nearest_nodes` over all nodes, up to the order of equal distances.
    k: as given to :func:`nearest_nodes` (a graph that had fewer than k old nodes is searched again
    in full). Returns (dist, idx, changed (C,) int64 rows that changed)."""
    new = positions[first_new:]
    if dist.shape[1] < min(k, len(positions)):
        d, i = nearest_nodes(positions, points, k)
        return d, i, torch.arange(len(points), device=points.device)
    k = dist.shape[1]
    if len(new) == 0 or len(points) == 0:
        return dist, idx, torch.zeros(0, dtype=torch.long, device=points.device)
    kth = dist[:, -1]
    # Only points within the farthest k-th old distance of the new nodes' box can change (a cheap
    # superset: the test below is exact for each of them).
    reach = float(kth.max())
    lo, hi = new.min(0).values - reach, new.max(0).values + reach
    near = torch.nonzero(((points >= lo) & (points <= hi)).all(1)).squeeze(1)
    if points.device.type == "cpu":
        from scipy.spatial import cKDTree

        # Nearest new node of each point, searched no further than the farthest k-th old distance.
        d1, _ = cKDTree(new.numpy()).query(points[near].numpy(), k=1, distance_upper_bound=reach)
        d1 = torch.as_tensor(np.asarray(d1, dtype=np.float64))
    else:
        d1 = torch.cat([torch.cdist(points[near][s:s + 65536], new).min(1).values for s in range(0, len(near), 65536)]
                       + [new.new_zeros(0)])
    changed = near[d1.to(kth.dtype) < kth[near]]
    if len(changed) == 0:
        return dist, idx, changed
    dn, inew = nearest_nodes(new, points[changed], k)
    d_both = torch.cat([dist[changed], dn.to(dist.dtype)], dim=1)
    i_both = torch.cat([idx[changed], inew + first_new], dim=1)
    order = torch.argsort(d_both, dim=1, stable=True)[:, :k]  # old before new at equal distance
    dist, idx = dist.clone(), idx.clone()
    dist[changed] = torch.gather(d_both, 1, order)
    idx[changed] = torch.gather(i_both, 1, order)
    return dist, idx, changed


def node_weights(dist: torch.Tensor, radius_m: float) -> torch.Tensor:
    """(P, k) float32 normalised weights of a point's nearest nodes from their distances (P, k),
    ascending: exp(-d^2 / (2 r^2)) relative to the nearest, so a point beyond every node's reach
    still follows its nearest nodes (never all zero)."""
    dk = dist.to(torch.float32)
    w = torch.exp(-(dk ** 2 - dk[:, :1] ** 2) / (2 * radius_m ** 2))
    return w / w.sum(1, keepdim=True)


def point_weights(graph: NodeGraph, points: torch.Tensor, k: int = 4, chunk: int = 65536):
    """Nearest ``k`` nodes of each canonical point and their normalised weights.

    points: (P, 3) metres. Returns (idx (P, k) int64, w (P, k) float32) (:func:`nearest_nodes`,
    :func:`node_weights`).
    """
    dist, idx = nearest_nodes(graph.positions, points, k, chunk)
    return idx, node_weights(dist, graph.radius_m)


def node_skinning(graph: NodeGraph, joint_transforms: torch.Tensor) -> torch.Tensor:
    """(N, 3, 4) the nodes' skinning maps S_k: their skinning weights blend the (24, 4, 4)
    canonical -> live joint maps. They do not depend on the corrections, so a fit of the
    corrections computes them once (``skinning`` of :func:`node_transforms`)."""
    return torch.einsum("nj,jab->nab", graph.skin, joint_transforms[:, :3, :])


def node_transforms(graph: NodeGraph, joint_transforms: torch.Tensor,
                    rotations: Optional[torch.Tensor] = None,
                    translations: Optional[torch.Tensor] = None,
                    skinning: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(N, 3, 4) per-node maps S_k E_k: the ED correction followed by the node's skinning.

    joint_transforms: (24, 4, 4) canonical -> live joint maps (``warp.canonical_to_live``).
    rotations/translations override the graph's (for optimisation); skinning: the (N, 3, 4)
    :func:`node_skinning` of these joint maps when the caller has it already."""
    rot = graph.rotations if rotations is None else rotations
    tra = graph.translations if translations is None else translations
    r = rodrigues(rot)
    g = graph.positions
    e_t = g + tra - (r @ g[:, :, None])[..., 0]
    s = node_skinning(graph, joint_transforms) if skinning is None else skinning  # (N, 3, 4)
    sr, st = s[:, :, :3], s[:, :, 3]
    return torch.cat([sr @ r, ((sr @ e_t[:, :, None])[..., 0] + st)[..., None]], dim=-1)


def blend_maps(maps: torch.Tensor, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(P, 3, 4) each point's blended node map sum_k w_k S_k E_k: (N, 3, 4) node maps, (P, k)
    idx / weights."""
    return (maps[idx] * w[:, :, None, None]).sum(1)


def warp_points(maps: torch.Tensor, idx: torch.Tensor, w: torch.Tensor, points: torch.Tensor,
                chunk: int = 131072) -> torch.Tensor:
    """W(x): (N, 3, 4) node maps, (P, k) idx/weights, (P, 3) canonical points -> (P, 3) live."""
    out = []
    for s in range(0, len(points), chunk):
        m = blend_maps(maps, idx[s:s + chunk], w[s:s + chunk])
        p = points[s:s + chunk]
        out.append((m[:, :, :3] @ p[:, :, None])[..., 0] + m[:, :, 3])
    return torch.cat(out) if out else points.new_zeros((0, 3))


def warp_points_and_normals(maps: torch.Tensor, idx: torch.Tensor, w: torch.Tensor, points: torch.Tensor,
                            normals: torch.Tensor):
    """:func:`warp_points` and :func:`warp_normals` of the same (P, 3) canonical points and unit
    normals from one blend of the maps: (live points (P, 3), live unit normals (P, 3), the
    normals without gradient)."""
    m = blend_maps(maps, idx, w)
    live = (m[:, :, :3] @ points[:, :, None])[..., 0] + m[:, :, 3]
    with torch.no_grad():
        n = (m[:, :, :3] @ normals[:, :, None])[..., 0]
        n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return live, n


def warp_matrix(idx: torch.Tensor, w: torch.Tensor, points: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """The warp of fixed canonical points (the fusion band) as one sparse (P, 4 N) CSR matrix.

    W(x) = sum_k w_k M_k [x; 1] is linear in the node maps M_k (3, 4), so with the weights times
    the homogeneous point folded into the matrix, row p holds w_pk [x_p; 1] at columns
    4 idx_pk .. 4 idx_pk + 3, and :func:`warp_by_matrix` is one sparse product with the maps
    (4 N, 3): 16 products per point and no (P, 3, 4) intermediate. idx / w (P, k) from
    :func:`point_weights`, points (P, 3) metres. Indices are int32: torch's CSR product with
    int64 indices is several times slower on CPU.
    """
    p, k = idx.shape
    values, cols = _warp_rows(idx, w, points)
    crow = torch.arange(0, p * 4 * k + 1, 4 * k, dtype=torch.int32, device=idx.device)
    return _csr(crow, cols, values, (p, 4 * num_nodes))


def update_warp_matrix(matrix: torch.Tensor, rows: torch.Tensor, idx: torch.Tensor, w: torch.Tensor,
                       points: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """:func:`warp_matrix` with only ``rows`` (C,) int64 written again (the band's voxels that
    :func:`add_nearest_nodes` changed); idx / w (C, k) and points (C, 3) are those rows', with the
    same k as ``matrix`` was made with. Returns a new (P, 4 num_nodes) matrix, equal to
    :func:`warp_matrix` of all rows; ``matrix`` is left as it was."""
    p = matrix.shape[0]
    values = matrix.values().reshape(p, -1).clone()
    cols = matrix.col_indices().reshape(p, -1).clone()
    if values.shape[1] != 4 * idx.shape[1]:
        raise ValueError(f"update_warp_matrix: the matrix has {values.shape[1] // 4} nodes a row, "
                         f"the rows given {idx.shape[1]}; make it again with warp_matrix")
    v_rows, c_rows = _warp_rows(idx, w, points)
    values[rows] = v_rows
    cols[rows] = c_rows
    return _csr(matrix.crow_indices(), cols, values, (p, 4 * num_nodes))


def _warp_rows(idx, w, points):
    """The rows of :func:`warp_matrix`: (values (P, 4 k) float, columns (P, 4 k) int32)."""
    p, k = idx.shape
    xh = torch.cat([points, torch.ones_like(points[:, :1])], dim=1)                # (P, 4)
    values = (w[:, :, None] * xh[:, None, :]).reshape(p, 4 * k)
    # int32 throughout: the int64 arithmetic cost 3x as long over the band's 445k x 16 entries.
    cols = (idx.to(torch.int32)[:, :, None] * 4
            + torch.arange(4, dtype=torch.int32, device=idx.device)).reshape(p, 4 * k)
    return values, cols


def _csr(crow, cols, values, size):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, cols.reshape(-1), values.reshape(-1), size)


def warp_by_matrix(maps: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """W(x) as :func:`warp_points` for the points of ``matrix`` (:func:`warp_matrix`): (N, 3, 4)
    node maps -> (P, 3) live points (no gradient needed)."""
    return matrix @ maps.transpose(1, 2).reshape(-1, 3).to(matrix.dtype)


def warp_normals(maps, idx, w, normals):
    """Rotate canonical normals (P, 3) by the blended linear part; renormalised."""
    m = (maps[idx][:, :, :, :3] * w[:, :, None, None]).sum(1)
    n = (m @ normals[:, :, None])[..., 0]
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def arap_residuals(graph: NodeGraph, rotations: torch.Tensor, translations: torch.Tensor) -> torch.Tensor:
    """As-rigid-as-possible residuals, one 3-vector per edge (i, j) of the graph (metres):
    R_i (g_j - g_i) + g_i + t_i - (g_j + t_j) (DynamicFusion eq. 9, no Huber), flattened (N * Kn * 3,).
    rotations (N, 3) axis-angle, radians; translations (N, 3) metres."""
    g = graph.positions.to(rotations.dtype)
    nb = graph.neighbours
    r = rodrigues(rotations)
    gi, gj = g[:, None, :], g[nb]
    pred = (r[:, None] @ (gj - gi)[..., None])[..., 0] + gi + translations[:, None, :]
    return (pred - (gj + translations[nb])).reshape(-1)


def arap_energy(graph: NodeGraph, rotations: torch.Tensor, translations: torch.Tensor) -> torch.Tensor:
    """As-rigid-as-possible term: mean over edges of |arap residual|^2, metres^2."""
    return (arap_residuals(graph, rotations, translations) ** 2).sum() / graph.neighbours.numel()


def bind_residuals(graph: NodeGraph, rotations: torch.Tensor, translations: torch.Tensor,
                   sigma_m: float = 0.01) -> torch.Tensor:
    """Binding of the outer layer to the body (DoubleFusion's pull of the nodes toward the skinned
    body): the corrections themselves, translations in units of ``sigma_m``, each node weighted
    1 / sqrt(N) so the energy is a mean over nodes. Returns (6 N,)."""
    n = max(graph.num_nodes, 1)
    return torch.cat([translations.reshape(-1) / sigma_m, rotations.reshape(-1)]) / n ** 0.5
