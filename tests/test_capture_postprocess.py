"""Post-processing: holes filled, even edges, isolated pieces removed, colour carried over."""
import numpy as np

from thuman.capture.postprocess import PostprocessConfig, postprocess_mesh, transfer_colors


def _holed_sphere_with_debris():
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    # Cut a cap away (a hole, like the top of a head the camera never saw).
    keep = s.vertices[s.faces].mean(1)[:, 1] < 0.22
    holed = trimesh.Trimesh(s.vertices, s.faces[keep], process=False)
    holed.remove_unreferenced_vertices()
    colors = np.where(holed.vertices[:, :1] > 0, [[250, 10, 10]], [[10, 10, 250]]).astype(np.uint8)
    debris = trimesh.creation.icosphere(subdivisions=1, radius=0.01)
    debris.apply_translation([0.6, 0, 0])
    v = np.concatenate([holed.vertices, debris.vertices])
    f = np.concatenate([holed.faces, debris.faces + len(holed.vertices)])
    c = np.concatenate([colors, np.full((len(debris.vertices), 3), 128, np.uint8)])
    return v, f, c


def test_postprocess_fills_remeshes_and_cleans():
    import trimesh

    v, f, c = _holed_sphere_with_debris()
    cfg = PostprocessConfig(poisson_depth=6, target_edge_m=0.03, remesh_iterations=2, trim_quantile=0.0,
                            max_fill_m=0.3)
    res = postprocess_mesh(v, f, c, cfg)
    m = res.mesh
    assert res.steps == ["screened_poisson", "distance_trim", "isotropic_remeshing", "remove_isolated_pieces",
                         "color_transfer"]
    tm = trimesh.Trimesh(m.vertices, m.faces, process=True)
    # The hole is closed and the debris is gone: one watertight piece around the sphere.
    assert len(tm.split(only_watertight=False)) == 1
    assert tm.is_watertight
    assert m.vertices[:, 0].max() < 0.4
    assert m.vertices[:, 1].max() > 0.27  # the cap came back
    # Even edges near the target.
    e = np.linalg.norm(tm.vertices[tm.edges_unique[:, 0]] - tm.vertices[tm.edges_unique[:, 1]], axis=1)
    assert 0.5 * 0.03 < np.median(e) < 1.5 * 0.03
    assert np.std(e) / np.mean(e) < 0.4
    # Colour carried over: red on +x, blue on -x.
    right = m.vertex_colors[m.vertices[:, 0] > 0.1]
    left = m.vertex_colors[m.vertices[:, 0] < -0.1]
    assert right[:, 0].mean() > 200 and left[:, 2].mean() > 200
    assert m.vertex_colors.dtype == np.uint8 and m.faces.dtype == np.int32


def test_distance_trim_leaves_large_unseen_regions_open():
    """Half a sphere (a back never seen): Poisson would invent the other half; it is cut away."""
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    keep = s.vertices[s.faces].mean(1)[:, 2] > 0
    half = trimesh.Trimesh(s.vertices, s.faces[keep], process=False)
    half.remove_unreferenced_vertices()
    res = postprocess_mesh(half.vertices, half.faces, None, PostprocessConfig(
        poisson_depth=6, target_edge_m=0.03, remesh_iterations=1, trim_quantile=0.0, max_fill_m=0.04))
    assert res.mesh.vertices[:, 2].min() > -0.06
    assert abs(np.linalg.norm(res.mesh.vertices, axis=1).mean() - 0.3) < 0.01


def test_density_trim_is_recorded_and_empty_mesh_rejected():
    import pytest

    v, f, c = _holed_sphere_with_debris()
    res = postprocess_mesh(v, f, None, PostprocessConfig(poisson_depth=5, target_edge_m=0.04,
                                                          remesh_iterations=1, trim_quantile=0.05))
    assert "density_trim" in res.steps and "color_transfer" not in res.steps
    assert res.mesh.vertex_colors is None
    with pytest.raises(ValueError, match="empty mesh"):
        postprocess_mesh(np.zeros((0, 3)), np.zeros((0, 3), int), None)


def test_transfer_colors_nearest():
    src = np.array([[0, 0, 0], [1, 0, 0]], float)
    col = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    out = transfer_colors(src, col, np.array([[0.01, 0, 0], [0.99, 0, 0]]), k=1)
    assert out.tolist() == [[255, 0, 0], [0, 0, 255]]
