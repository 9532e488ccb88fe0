"""The canonical TSDF: with no motion and no noise it must agree with Open3D's rigid integration."""
import numpy as np
import pytest
import torch

from thuman.capture.raycast import intrinsics, render_depth
from thuman.capture.tsdf import TSDFVolume, extract_mesh, integrate, sample_tsdf

VOXEL = 0.02
W, H = 160, 120


def _scene():
    """A sphere on a box, 1.5 m in front of the camera (capture frame: z toward the camera)."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.25)
    sphere.apply_translation([0.0, 0.15, -1.5])
    box = trimesh.creation.box(extents=[0.5, 0.3, 0.4])
    box.apply_translation([0.05, -0.2, -1.5])
    mesh = trimesh.util.concatenate([sphere, box])
    return mesh.vertices.astype(np.float32), mesh.faces.astype(np.int32)


def _yaw(deg, centre):
    """(4, 4) rotation about the vertical axis through centre: the camera orbiting the object."""
    a = np.radians(deg)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = centre - R @ centre
    return T


def _distances(points, vertices, faces):
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(vertices, np.float32)),
                        o3d.core.Tensor(np.asarray(faces, np.uint32)))
    return scene.compute_distance(o3d.core.Tensor(np.asarray(points, np.float32))).numpy()


def _open3d_fusion(frames, K, origin, length, res, trunc):
    import open3d as o3d

    vol = o3d.pipelines.integration.UniformTSDFVolume(
        length=length, resolution=res, sdf_trunc=trunc,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8, origin=origin)
    intr = o3d.camera.PinholeCameraIntrinsic(W, H, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    for depth, color, pose in frames:
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(color), o3d.geometry.Image((depth * 1000).astype(np.uint16)),
            depth_scale=1000.0, depth_trunc=10.0, convert_rgb_to_intensity=False)
        # Open3D's extrinsic maps world (our capture frame) to its OpenCV camera frame.
        extrinsic = np.diag([1.0, -1.0, -1.0, 1.0]) @ pose
        vol.integrate(rgbd, intr, extrinsic)
    m = vol.extract_triangle_mesh()
    return np.asarray(m.vertices), np.asarray(m.triangles)


@pytest.mark.parametrize("views", [[0, 0, 0], [-60, -20, 20, 60]])
def test_tsdf_matches_open3d_rigid_integration(views):
    verts, faces = _scene()
    K = intrinsics(W, H, 60.0)
    centre = np.array([0.0, 0.0, -1.5])
    frames = []
    for deg in views:
        pose = _yaw(deg, centre)
        depth = np.round(render_depth(verts, faces, K, H, W, pose) * 1000) / 1000  # mm, as sensors give
        color = np.zeros((H, W, 3), np.uint8)
        color[..., 0] = 200
        color[..., 1] = np.linspace(0, 255, W).astype(np.uint8)[None]
        frames.append((depth, color, pose))
    length, res = 1.28, 64
    origin = centre - length / 2
    vol = TSDFVolume.create(origin, length, length / res, trunc_voxels=3.0)
    for depth, color, pose in frames:
        c = vol.voxel_centres()
        live = c @ torch.as_tensor(pose[:3, :3].T, dtype=torch.float32) + torch.as_tensor(pose[:3, 3], dtype=torch.float32)
        integrate(vol, torch.from_numpy(depth), K, torch.from_numpy(color), live_centres=live)
    ours = extract_mesh(vol)
    ov, of = _open3d_fusion(frames, K, origin, length, res, vol.trunc_m)
    assert len(ours.faces) > 1000 and len(of) > 1000
    voxel = length / res
    d_ours_to_o3d = _distances(ours.vertices, ov, of)
    d_o3d_to_ours = _distances(ov, ours.vertices, ours.faces)
    # Within one voxel everywhere both saw the surface (Open3D also meshes a few fringe cubes).
    assert np.quantile(d_ours_to_o3d, 0.99) < voxel, np.quantile(d_ours_to_o3d, [0.5, 0.99, 1.0])
    assert np.quantile(d_o3d_to_ours, 0.99) < voxel, np.quantile(d_o3d_to_ours, [0.5, 0.99, 1.0])
    assert np.median(d_ours_to_o3d) < 0.1 * voxel
    # And both are on the true surface.
    assert np.quantile(_distances(ours.vertices, verts, faces), 0.95) < 0.5 * voxel
    # Colour: red channel constant, as fused.
    assert abs(np.median(ours.colors[:, 0].astype(float)) - 200) <= 2


def test_faces_point_outward_and_tsdf_signs():
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    sphere.apply_translation([0, 0, -1.2])
    K = intrinsics(W, H, 60.0)
    vol = TSDFVolume.create([-0.5, -0.5, -1.7], 1.0, 0.025)
    centre = np.array([0, 0, -1.2])
    for deg in range(0, 360, 45):
        pose = _yaw(deg, centre)
        depth = render_depth(sphere.vertices, sphere.faces, K, H, W, pose)
        c = vol.voxel_centres()
        live = c @ torch.as_tensor(pose[:3, :3].T, dtype=torch.float32) + torch.as_tensor(pose[:3, 3], dtype=torch.float32)
        integrate(vol, torch.from_numpy(depth), K, None, live_centres=live)
    m = extract_mesh(vol)
    tm = trimesh.Trimesh(m.vertices, m.faces, process=True)
    assert tm.volume > 0  # counter-clockwise from outside
    assert abs(tm.volume - sphere.volume) / sphere.volume < 0.05
    vals = sample_tsdf(vol, torch.tensor([[0, 0, -1.2 + 0.27], [0, 0, -1.2 + 0.33]], dtype=torch.float32))
    assert vals[0] < 0 < vals[1]


def test_band_restricted_integration_matches_full():
    verts, faces = _scene()
    K = intrinsics(W, H, 60.0)
    depth = torch.from_numpy(render_depth(verts, faces, K, H, W))
    full = TSDFVolume.create([-0.5, -0.6, -2.0], 1.0, 0.025)
    band = TSDFVolume.create([-0.5, -0.6, -2.0], 1.0, 0.025)
    integrate(full, depth, K)
    ids = band.ids_near(verts, 0.1)
    assert 0 < len(ids) < band.num_voxels // 2
    integrate(band, depth, K, ids=ids)
    a, b = extract_mesh(full), extract_mesh(band)
    d = _distances(b.vertices, a.vertices, a.faces)
    assert np.quantile(d, 0.99) < 1e-4


def test_voxel_indexing_has_one_owner():
    """Flat ids, (i, j, k), positions and the (nx, ny, nz) view of the arrays agree: the TSDF's
    indexing convention lives in TSDFVolume alone (voxel_centres, sample_weight, sample_tsdf and
    extract_mesh use it)."""
    from thuman.capture.tsdf import sample_weight

    vol = TSDFVolume.create([-0.3, -0.2, -1.5], [0.5, 0.4, 0.3], 0.05)
    nx, ny, nz = vol.dims
    ids = torch.arange(vol.num_voxels)
    ijk = vol.ijk(ids)
    assert torch.equal(vol.flat_ids(ijk), ids)
    grid = torch.arange(vol.num_voxels).reshape(nx, ny, nz)
    assert torch.equal(grid[ijk[:, 0], ijk[:, 1], ijk[:, 2]], ids)
    centres = vol.voxel_centres(ids)
    assert torch.allclose(centres[1], torch.tensor([-0.3 + 0.025, -0.2 + 0.025, -1.5 + 0.075]))
    assert torch.allclose(vol.position_to_index(centres), ijk.float(), atol=1e-4)
    near, inside = vol.nearest_ids(centres + 0.02)
    assert torch.equal(near, ids) and bool(inside.all())
    vol.weight[:] = ids.float()
    assert torch.equal(sample_weight(vol, centres), ids.float())
    assert float(sample_weight(vol, torch.tensor([[5.0, 0, 0]]))[0]) == 0.0
    # a TSDF with value = x - x0: sample_tsdf reads it back at arbitrary points, extract_mesh puts
    # the surface at x0
    x0 = -0.1
    vol.tsdf[:] = (centres[:, 0] - x0) * 4
    vol.weight[:] = 1
    p = torch.tensor([[-0.17, 0.0, -1.4], [0.02, 0.1, -1.33]])
    assert torch.allclose(sample_tsdf(vol, p), (p[:, 0] - x0) * 4, atol=1e-5)
    mesh = extract_mesh(vol)
    assert len(mesh.faces) and np.abs(mesh.vertices[:, 0] - x0).max() < 1e-5
