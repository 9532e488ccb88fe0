"""The differentiable volume-to-normal projection layer (paper sec. 4.1.2, eqs. 3-6).

Conventions (``thuman_io.grid``): occupancy (B, 1, D, H, W), depth index k = 0 nearest the
camera, image row 0 at the top, normals in the view frame (x right, y up, z toward the camera),
0 on the background. Lengths here are in voxels; normals do not depend on the unit.

    V_d = M (1 - V_o) + k V_o          (eq. 4, k the depth index, M = D by default)
    D(p) = min_k V_d(p, k)             (eq. 5, the differentiable form of eq. 3's inf)
    M_v(p) = (x_p, y_p, z_p)           vertex map, z_p = D/2 - D(p) grows toward the camera
    N(p) = G_x(p) x G_y(p)             (eq. 6, G_x, G_y = Sobel derivatives of M_v along x, y)

M only has to exceed every depth index, so M = D puts empty columns on the back face of the box
rather than at a huge depth whose Sobel differences would swamp the silhouette's neighbours.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def occupancy_to_depth(occupancy: torch.Tensor, big_m: float | None = None) -> torch.Tensor:
    """Eqs. 4-5. occupancy (B, 1, D, H, W) in [0, 1] -> depth (B, 1, H, W) in voxels from the
    front face of the box (index of the first occupied voxel; ``big_m`` where the column is empty)."""
    d = occupancy.shape[2]
    m = float(d if big_m is None else big_m)
    k = torch.arange(d, dtype=occupancy.dtype, device=occupancy.device).view(1, 1, d, 1, 1)
    depth_volume = m * (1.0 - occupancy) + k * occupancy
    return depth_volume.min(dim=2).values


def depth_to_vertex_map(depth: torch.Tensor, grid_depth: int) -> torch.Tensor:
    """depth (B, 1, H, W) in voxels -> vertex map (B, 3, H, W): view-frame (x, y, z) in voxels,
    origin at the box centre (pixel centres for x, y; z = D/2 - depth)."""
    b, _, h, w = depth.shape
    cols = torch.arange(w, dtype=depth.dtype, device=depth.device) + 0.5 - w / 2
    rows = h / 2 - (torch.arange(h, dtype=depth.dtype, device=depth.device) + 0.5)
    x = cols.view(1, 1, 1, w).expand(b, 1, h, w)
    y = rows.view(1, 1, h, 1).expand(b, 1, h, w)
    return torch.cat([x, y, grid_depth / 2 - depth], dim=1)


def _sobel_kernels(dtype, device):
    # Cross-correlation kernels: sx takes (right - left) = d/dx; sy takes (top - bottom) = d/dy
    # because y points up while rows grow downward.
    sx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]], dtype=dtype, device=device)
    sy = torch.tensor([[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]], dtype=dtype, device=device)
    return sx, sy


def vertex_map_to_normals(vertex_map: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Eq. 6. vertex_map (B, 3, H, W) -> unit normals (B, 3, H, W), n = G_x x G_y / |.|.

    A surface facing the camera (constant z) gives (0, 0, 1); the plane z = a x gives
    (-a, 0, 1) / sqrt(1 + a^2).
    """
    sx, sy = _sobel_kernels(vertex_map.dtype, vertex_map.device)
    weight = torch.stack([sx, sy]).unsqueeze(1)                   # (2, 1, 3, 3)
    b, _, h, w = vertex_map.shape
    padded = F.pad(vertex_map.reshape(b * 3, 1, h, w), (1, 1, 1, 1), mode="replicate")
    grads = F.conv2d(padded, weight).reshape(b, 3, 2, h, w)
    gx, gy = grads[:, :, 0], grads[:, :, 1]
    n = torch.cross(gx, gy, dim=1)
    return n / (n.norm(dim=1, keepdim=True) + eps)


def project_normals(occupancy: torch.Tensor, upsample: int = 2, threshold: float = 0.5,
                    big_m: float | None = None) -> torch.Tensor:
    """The whole layer: occupancy (B, 1, D, H, W) in [0, 1] -> normal map (B, 3, uH, uW).

    Pixels whose column never reaches ``threshold`` (the front silhouette max_k V_o) are 0.
    The map is upsampled by ``upsample`` (bilinear, renormalised) as R's input (sec. 4.1.2).
    """
    depth = occupancy_to_depth(occupancy, big_m)
    normals = vertex_map_to_normals(depth_to_vertex_map(depth, occupancy.shape[2]))
    silhouette = (occupancy.amax(dim=2) >= threshold).to(normals.dtype)      # (B, 1, H, W)
    normals = normals * silhouette
    if upsample != 1:
        normals = F.interpolate(normals, scale_factor=upsample, mode="bilinear", align_corners=False)
        silhouette = F.interpolate(silhouette, scale_factor=upsample, mode="nearest")
        normals = normals / (normals.norm(dim=1, keepdim=True) + 1e-8) * silhouette
    return normals
