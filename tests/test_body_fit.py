"""Body registration on meshes whose body is known: the alignment measure, the fit on clothed
simulated subjects, the release importer with a body made by another model, `thuman import MESH`
without parameters, `thuman validate --body`."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import thuman_io
from thuman_io.body import load_body_model
from thuman_io.body.alignment import TOLERANCE_MEAN_M, body_alignment
from thuman_io.body.registration import FitStart, fit_body
from thuman_io.body.registration.surface import SurfaceQuery
from thuman_io.testing import ellipsoid_mesh
from cli_runner import run_cli

#: Seeds never used while the fit was tuned (tuning looked at 101-108 and 200).
HELD_OUT_SEEDS = tuple(range(240, 260))


@pytest.fixture(scope="module")
def bm():
    return load_body_model("open")


def test_signed_distance_of_a_sphere():
    # A unit-radius ellipsoid mesh is a sphere: distances are known analytically.
    v, f, _ = ellipsoid_mesh(4000, radii=(1.0, 1.0, 1.0), center=(0.0, 0.0, 0.0))
    q = SurfaceQuery(v, f)
    pts = np.array([[0, 0, 1.2], [0.5, 0, 0], [0, -1.05, 0], [0.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(q.signed_distance(pts), [0.2, -0.5, 0.05, -1.0], atol=2e-3)
    # Points outside count with their distance, points inside count 0.
    a = body_alignment(pts, v, f)
    assert a.mean_outside_m == pytest.approx(0.25 / 4, abs=1e-3)
    assert a.fraction_outside == 0.5 and a.max_outside_m == pytest.approx(0.2, abs=2e-3)


def _pose(seed):
    from thuman.capture.sim.posed import random_pose

    return random_pose(seed)


def _errors(fit_vertices, fit_joints, subject):
    ev = np.linalg.norm(fit_vertices - subject.body_vertices, axis=1).mean()
    ej = np.linalg.norm(fit_joints - subject.body_joints, axis=1).mean()
    return float(ev), float(ej)


def test_fit_clothed_subject_from_a_rough_start(bm):
    """Clothed simulated subject (held-out seed), starting 10 cm and 0.3 rad away, rest pose."""
    from thuman.capture.sim.posed import posed_subject

    pose, transl = _pose(HELD_OUT_SEEDS[0])
    s = posed_subject(HELD_OUT_SEEDS[0], pose, transl)
    start_orient = (Rotation.from_rotvec([0, 0.3, 0]) * Rotation.from_rotvec(pose[:3])).as_rotvec()
    start = FitStart(global_orient=start_orient, body_pose=pose[3:] * 0.5, transl=transl + [0.1, 0.0, 0.0])
    fit = fit_body(bm, s.vertices, s.faces, start=start)
    ev, ej = _errors(fit.vertices, fit.joints, s)
    assert ev < 0.015 and ej < 0.03, (ev, ej, s.garments)
    assert fit.start == "given" and 0 < fit.residual_m[0] < fit.residual_m[1]


def _posed(bm, start):
    f = lambda x, n: np.asarray(np.zeros(n) if x is None else x, np.float32)[None]
    out = bm.forward(betas=f(start.betas, 10), global_orient=f(start.global_orient, 3),
                     body_pose=f(start.body_pose, 69), transl=f(start.transl, 3))
    return out.vertices[0].astype(np.float64), out.joints[0].astype(np.float64)


def _nearest_mean(a, b):
    from scipy.spatial import cKDTree

    return float(cKDTree(b).query(a)[0].mean())


def test_mirror_pose_poses_the_mirror_image(bm):
    """joints.mirror_pose: the posed body of the mirrored pose is the posed body reflected through
    x = 0 (the rest frame's sagittal plane), left and right swapped; mirroring twice is the identity."""
    from thuman_io.body.joints import JOINT_NAMES, MIRROR, mirror_pose

    assert [JOINT_NAMES[i] for i in MIRROR[[1, 16, 22, 15]]] == ["right_hip", "right_shoulder", "right_hand", "head"]
    pose, _ = _pose(HELD_OUT_SEEDS[0])
    pose[:3] = 0
    assert np.allclose(mirror_pose(mirror_pose(pose)), pose)
    assert np.allclose(mirror_pose(pose)[3:], mirror_pose(pose[3:]))
    v, j = _posed(bm, FitStart(body_pose=pose[3:]))
    vm, jm = _posed(bm, FitStart(body_pose=mirror_pose(pose[3:])))
    reflect = np.array([-1.0, 1.0, 1.0])
    # The open model is left-right symmetric to within millimetres, so nearest points agree.
    assert _nearest_mean(vm, v * reflect) < 0.002
    assert np.linalg.norm(jm[MIRROR] - j * reflect, axis=1).max() < 0.01
    # A pose that is not its own mirror image moves: the check above is not vacuous.
    assert _nearest_mean(vm, v) > 0.01


def test_front_back_twin_is_the_coronal_mirror(bm):
    """search.front_back_twin: the twin's body is the fitted body reflected through its own coronal
    plane through the root joint (limbs stay, the torso faces the other way)."""
    from thuman_io.body.registration.search import front_back_twin

    pose, transl = _pose(HELD_OUT_SEEDS[1])
    start = FitStart(betas=np.r_[0.7, -0.3, np.zeros(8)], global_orient=pose[:3], body_pose=pose[3:], transl=transl)
    v, j = _posed(bm, start)
    vt, jt = _posed(bm, front_back_twin(start))
    forward = Rotation.from_rotvec(pose[:3]).as_matrix()[:, 2]
    reflected = v - 2 * ((v - j[0]) @ forward)[:, None] * forward[None]
    assert np.linalg.norm(jt[0] - j[0]) < 1e-5
    assert _nearest_mean(vt, reflected) < 0.002
    facing = Rotation.from_rotvec(front_back_twin(start).global_orient).as_matrix()[:, 2]
    assert facing @ forward < -0.99


def test_transplant_limbs_unfolds_an_arm(bm):
    """limbs.transplant_limbs: a fit right but for one arm folded across the trunk (the failure of
    seed 241) gets an arm near the scan's from the library's limbs; the other limbs stay."""
    import torch

    from thuman_io.body.registration import fit as F
    from thuman_io.body.registration.limbs import LIMBS, transplant_limbs

    pose, transl = _pose(HELD_OUT_SEEDS[3])
    truth = bm.pose_one(np.zeros(10), pose, transl)
    target = F._Target(truth.vertices[0], bm.faces, 6000, 0)
    folded = pose[3:].copy()
    folded[3 * 16:3 * 17] = Rotation.from_euler("xyz", [30, 20, 110], degrees=True).as_rotvec()   # right shoulder
    folded[3 * 18:3 * 19] = Rotation.from_euler("xyz", [160, 20, -160], degrees=True).as_rotvec()  # right elbow
    p = F._Params(bm, FitStart(global_orient=pose[:3], body_pose=folded, transl=transl), torch.device("cpu"))
    arm = list(LIMBS["right arm"][1:]) + [23]

    def arm_error():
        with torch.no_grad():
            joints = p.pose()[1][0].numpy()
        return np.linalg.norm(joints[arm] - truth.joints[0][arm], axis=1).mean()

    before = arm_error()
    changed = transplant_limbs(p, target, bm, lambda v: float(F.data_loss(v, target, bm.faces, 0.15, 0.5, 1.0)))
    after = arm_error()
    assert before > 0.25 and "right arm" in changed and after < 0.5 * before, (before, after, changed)
    with torch.no_grad():
        joints = p.pose()[1][0].numpy()
    legs = list(LIMBS["legs"])
    assert np.linalg.norm(joints[legs] - truth.joints[0][legs], axis=1).max() < 0.05


def test_swapped_legs_crosses_the_legs_back(bm):
    """limbs.swapped_legs: each leg takes the mirror image of the other's rotations, so with the root
    at rest the legs' joints are the other leg's reflected through x = 0; the rest of the body stays;
    swapping twice is the identity."""
    from thuman_io.body.joints import MIRROR
    from thuman_io.body.registration.limbs import LIMBS, swapped_legs

    pose, transl = _pose(HELD_OUT_SEEDS[7])  # a kick: the legs differ
    start = FitStart(betas=np.zeros(10), global_orient=np.zeros(3), body_pose=pose[3:], transl=np.zeros(3))
    swapped = swapped_legs(start)
    assert np.allclose(swapped_legs(swapped).body_pose, start.body_pose)
    _, j = _posed(bm, start)
    _, js = _posed(bm, swapped)
    legs = [k for k in LIMBS["legs"] if k not in (1, 2)] + [10, 11]  # knees, ankles, feet
    reflect = np.array([-1.0, 1.0, 1.0])
    assert np.linalg.norm(js[legs] - j[MIRROR[legs]] * reflect, axis=1).max() < 0.01
    assert np.linalg.norm(js[legs] - j[legs], axis=1).max() > 0.1  # the legs did move
    upper = [3, 6, 9, 12, 15, 16, 17, 18, 19, 20, 21]
    assert np.linalg.norm(js[upper] - j[upper], axis=1).max() < 1e-5


def test_whole_pose_starts_find_the_scans_pose(bm):
    """limbs.whole_pose_starts: from a fit with the right root but every joint at rest, the library
    restarts are among the library poses nearest the scan's held-out pose (measured: best restart
    11.4 cm mean joint error, the rest pose 18.0, the median library pose 22.0, the best 8.7)."""
    import torch

    from thuman_io.body.registration import fit as F
    from thuman_io.body.registration.limbs import library_limb_poses, whole_pose_starts

    pose, transl = _pose(HELD_OUT_SEEDS[13])  # think: a hand at the chin
    truth = bm.pose_one(np.zeros(10), pose, transl)
    target = F._Target(truth.vertices[0], bm.faces, 6000, 0)
    p = F._Params(bm, FitStart(global_orient=pose[:3], transl=transl), torch.device("cpu"))
    score = lambda v: float(F.data_loss(v, target, bm.faces, 0.15, 0.5, 1.0))
    starts = whole_pose_starts(p, target, bm, score, count=3)
    assert len(starts) == 3
    rest_error = np.linalg.norm(_posed(bm, p.start())[1] - truth.joints[0], axis=1).mean()
    errors = [np.linalg.norm(_posed(bm, st)[1] - truth.joints[0], axis=1).mean() for st in starts]
    donors = library_limb_poses()
    n = len(donors)
    library = bm.forward(global_orient=np.repeat(pose[None, :3], n, 0).astype(np.float32),
                         body_pose=donors.astype(np.float32), transl=np.repeat(transl[None], n, 0).astype(np.float32))
    median = np.median(np.linalg.norm(library.joints - truth.joints[0][None], axis=2).mean(1))
    assert rest_error > 0.1 and min(errors) < 0.8 * rest_error and min(errors) < 0.6 * median, \
        (rest_error, errors, median)


def _write_obj(path, vertices, faces, crlf=True):
    rows = [f"v {a:.6f} {b:.6f} {c:.6f}" for a, b, c in vertices] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    end = "\r\n" if crlf else "\n"
    path.write_bytes((end.join(rows) + end).encode())


def _other_model_body(bm, betas, theta, joint_offsets):
    """The open body posed by a *different* model: the same template and weights, rest joints moved
    by joint_offsets (24, 3) metres (as SMPL's joints differ from the open model's).
    Release convention: rotation theta[:3] about that model's root joint, no translation."""
    from thuman_io.body.numpy_lbs import rodrigues, skin

    v = bm.rest_vertices.astype(np.float64) + np.einsum("vck,k->vc", bm.shapedirs.astype(np.float64), betas)
    joints = bm.j_regressor.astype(np.float64) @ v + joint_offsets
    verts, _ = skin(v[None], joints[None], bm.parents, bm.weights.astype(np.float64),
                    rodrigues(theta.reshape(1, 24, 3)))
    return verts[0]


def _write_release_params(path, betas, root, theta):
    rows = ["ShapeParams", " ".join(f"{b:.9g}" for b in betas), "RootTransformation"]
    rows += [" ".join(f"{x:.9g}" for x in r) for r in root] + ["JointRotations"] + [f"{t:.9g}" for t in theta]
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode())  # the release's Windows line ends


def test_release_import_fits_a_body_made_by_another_model(tmp_path, bm, capsys):
    """Done-when: a release folder (CRLF files) whose body was made with rest joints unlike the open
    model's imports with a body within 2 cm mean of the release's body; the bare conversion is not."""
    from thuman_io.exchange.release import FLIP_YZ

    rng = np.random.default_rng(7)
    betas, theta = rng.normal(0, 0.7, 10), rng.normal(0, 0.2, 72)
    theta[:3] = (0.4, -0.3, 0.2)  # a root rotation about the other model's root joint
    offsets = rng.normal(0, 0.025, (24, 3))
    offsets[0] = (0.0, 0.05, -0.03)
    root = np.eye(4)
    root[:3, :3], root[:3, 3] = Rotation.from_rotvec([0.1, 2.5, -0.2]).as_matrix(), (0.2, -0.1, 2.4)
    body = _other_model_body(bm, betas, theta, offsets) @ root[:3, :3].T + root[:3, 3]  # release frame
    folder = tmp_path / "THuman" / "results_gyc_20181010_hsc_1_F" / "00007"
    folder.mkdir(parents=True)
    _write_obj(folder / "smpl.obj", body, bm.faces)
    from thuman.capture.sim.sensor import vertex_normals

    scan = body + 0.015 * vertex_normals(body, bm.faces)  # a 'clothed' scan 1.5 cm outside the body
    _write_obj(folder / "mesh.obj", scan, bm.faces)
    _write_release_params(folder / "smpl_params.txt", betas, root, theta)
    truth = body @ FLIP_YZ.T

    errors = {}
    for mode in ("--no-fit", "--fit"):
        ds = tmp_path / mode.strip("-")
        code, out, err = run_cli(["import", "--thuman-release", str(tmp_path / "THuman"), "--dataset", str(ds), mode],
                                 capsys)
        assert code == 0, err
        item = thuman_io.read_item(ds / "results_gyc_20181010_hsc_1_F" / "0007.h5")
        posed, _ = bm.posed_mesh(item.smpl.betas, item.smpl.full_pose, item.smpl.transl)
        errors[mode] = float(np.linalg.norm(posed - truth, axis=1).mean())
    assert errors["--no-fit"] > 0.02, errors   # today's conversion alone: the body lands elsewhere
    assert errors["--fit"] < 0.02, errors
    assert item.smpl.fit_residual is not None and item.smpl.fit_residual[0] < 0.01
    assert item.meta.extra["body_fit"]["target"] == "smpl.obj"
    assert thuman_io.validate_item(ds / "results_gyc_20181010_hsc_1_F" / "0007.h5", body=True) == []


def _sim_item_files(tmp_path, seed):
    from thuman.capture.sim.posed import posed_subject
    from thuman_io.exchange import export_mesh
    from thuman_io.item import TexturedMesh

    pose, transl = _pose(seed)
    s = posed_subject(seed, pose, transl)
    path = tmp_path / f"scan{seed}.ply"
    export_mesh(TexturedMesh(vertices=s.vertices, faces=s.faces, vertex_colors=s.colors), path)
    return s, path


def test_validate_flags_a_moved_body(tmp_path, capsys):
    """Done-when: `thuman validate --body` passes the true body of a clothed subject and flags it
    moved 10 cm off its mesh, with the figures."""
    import json

    s, mesh_path = _sim_item_files(tmp_path, HELD_OUT_SEEDS[1])
    ds = tmp_path / "ds"
    for pose_index, shift in ((0, 0.0), (1, 0.10)):
        params = {"betas": s.betas.tolist(), "pose": s.pose72.tolist(),
                  "transl": (s.transl + [shift, 0, 0]).tolist(), "model": "open"}
        (tmp_path / "p.json").write_text(json.dumps(params))
        code, _, err = run_cli(["import", str(mesh_path), "--smpl", str(tmp_path / "p.json"), "--dataset", str(ds),
                                "--subject", "sim", "--pose", str(pose_index)], capsys)
        assert code == 0, err
    code, out, _ = run_cli(["validate", str(ds / "sim" / "0000.h5"), "--body"], capsys)
    assert code == 0, out
    code, out, _ = run_cli(["validate", str(ds), "--body"], capsys)
    assert code == 1 and "0001.h5: field 'smpl': body outside the mesh: mean" in out and "0000.h5" not in out
    code, out, _ = run_cli(["info", str(ds), "--body", "--no-bbox"], capsys)
    assert code == 0 and "body misaligned: 1 of 2 items" in out


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="done-when not met for vertices: bench/body_fit.py --seeds 240-259 --voxels "
                   "0.01 gives mean vertex error 2.53 cm (median 1.16), joint 2.28 cm; seed 247 (dress, kick) is 23 cm "
                   "off, 253 is 6.7 cm (docs/body.md); strict, so the marker must go when the fit passes")
def test_import_mesh_without_params_on_held_out_subjects(tmp_path, bm, capsys):
    """Done-when: `thuman import MESH` without parameters on 20 held-out clothed simulated subjects:
    mean body vertex error <= 1.5 cm and mean joint error <= 3 cm."""
    ev, ej = [], []
    for k, seed in enumerate(HELD_OUT_SEEDS):
        s, mesh_path = _sim_item_files(tmp_path, seed)
        code, _, err = run_cli(["import", str(mesh_path), "--dataset", str(tmp_path / "ds"), "--subject", "sim",
                                "--pose", str(k)], capsys)
        assert code == 0, err
        item = thuman_io.read_item(tmp_path / "ds" / "sim" / f"{k:04d}.h5")
        out = bm.pose_one(item.smpl.betas, item.smpl.full_pose, item.smpl.transl)
        e = _errors(out.vertices[0], out.joints[0], s)
        ev.append(e[0])
        ej.append(e[1])
    assert np.mean(ev) <= 0.015 and np.mean(ej) <= 0.03, (np.round(ev, 3), np.round(ej, 3))


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured 1.77 cm mean vertex error (1.59 cm joint) against the 1.5 cm "
                   "bound, 13.3 cm before the front/back twin and the limb transplant; strict, so the marker "
                   "must go when the fit passes")
def test_import_mesh_without_params_fits_a_body(tmp_path, bm, capsys):
    """`thuman import MESH` without --smpl on an unclothed body mesh: a body is fitted (search start)."""
    from thuman_io.exchange import export_mesh
    from thuman_io.item import TexturedMesh

    pose, transl = _pose(HELD_OUT_SEEDS[2])
    betas = np.random.default_rng(3).normal(0, 0.8, 10)
    truth = bm.pose_one(betas, pose, transl)
    export_mesh(TexturedMesh(vertices=truth.vertices[0], faces=bm.faces.astype(np.int32)), tmp_path / "body.obj")
    code, _, err = run_cli(["import", str(tmp_path / "body.obj"), "--dataset", str(tmp_path / "ds"),
                            "--subject", "b", "--pose", "0"], capsys)
    assert code == 0, err
    item = thuman_io.read_item(tmp_path / "ds" / "b" / "0000.h5")
    out = bm.pose_one(item.smpl.betas, item.smpl.full_pose, item.smpl.transl)
    assert np.linalg.norm(out.vertices[0] - truth.vertices[0], axis=1).mean() < 0.015
    assert item.meta.extra["body_fit"]["start"] == "search" and item.smpl.fit_residual[1] < TOLERANCE_MEAN_M * 3
