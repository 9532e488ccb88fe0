"""One vertex-normal function (thuman_io.geometry) for numpy and torch, checked against trimesh."""
import numpy as np
import torch


def _mesh():
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=2)
    v = m.vertices * np.array([1.0, 0.6, 1.4]) + np.random.default_rng(0).normal(size=m.vertices.shape) * 0.01
    return v, np.asarray(m.faces)


def test_vertex_normals_match_trimesh_in_numpy_and_torch():
    import trimesh

    from thuman_io.geometry import vertex_normals

    v, f = _mesh()
    m = trimesh.Trimesh(v, f, process=False)
    # trimesh's own sum of face normals over each vertex's faces, weighted by face area
    ref = trimesh.geometry.mean_vertex_normals(len(v), f, m.face_normals * m.area_faces[:, None])
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    n_np = vertex_normals(v, f)
    n_t = vertex_normals(torch.as_tensor(v), torch.as_tensor(f))
    assert n_np.dtype == np.float32 and n_t.dtype == torch.float64
    assert np.abs(n_np - ref).max() < 1e-6 and np.abs(n_t.numpy() - ref).max() < 1e-9
    # outward on a sphere-like mesh, a lone vertex gets 0
    assert (np.einsum("ij,ij->i", n_np, v) > 0).all()
    lone = vertex_normals(np.vstack([v, [[9.0, 9, 9]]]), f)
    assert np.array_equal(lone[-1], np.zeros(3, np.float32))


def test_every_caller_uses_the_one_owner():
    """The synthesizer, the simulated sensor, tracking, fusion and the session import the owner
    (a second copy would drift)."""
    import thuman.capture.body_tracking as tracking
    import thuman.capture.fusion as fusion
    import thuman.capture.session as session
    import thuman.capture.sim.sensor as sensor
    import thuman.synth.geometry as synth_geometry
    from thuman_io.geometry import vertex_normals

    for mod in (tracking, fusion, session, sensor, synth_geometry):
        assert mod.vertex_normals is vertex_normals, mod.__name__
