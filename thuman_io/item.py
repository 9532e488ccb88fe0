"""The THuman item: what one captured pose is made of (schema v1, docs/format.md).

These dataclasses are the in-memory form; ``thuman_io.storage`` writes and reads them and
``thuman_io.validate`` checks them. Frames: the *item frame* is metres, Y up, the frame in which
the SMPL parameters (with their translation) pose the body onto the mesh.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class TexturedMesh:
    """A triangle mesh with colour.

    vertices:      (V, 3) float32, metres, item frame.
    faces:         (F, 3) int32, counter-clockwise seen from outside.
    vertex_colors: (V, 3) uint8 RGB, or None.
    uv:            (V, 2) float32 texture coordinates in [0, 1] (origin bottom-left, OBJ's
                   convention), one per vertex (vertices are split at texture seams), or None.
    texture:       (Ht, Wt, 3) uint8 RGB image (row 0 at the top), or None. Requires ``uv``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    vertex_colors: Optional[np.ndarray] = None
    uv: Optional[np.ndarray] = None
    texture: Optional[np.ndarray] = None


@dataclass
class RGBDFrame:
    """The RGB-D frame an item was captured from.

    color:            (Hc, Wc, 3) uint8 RGB.
    depth_mm:         (Hd, Wd) uint16 depth in millimetres, 0 = no measurement.
    color_intrinsics: (3, 3) float64 pinhole matrix of the colour camera (pixels).
    depth_intrinsics: (3, 3) float64 pinhole matrix of the depth image (pixels). When
                      ``depth_registered_to_color`` the depth image is resampled into the colour
                      camera and equals ``color_intrinsics``.
    depth_to_color:   (4, 4) float64 rigid transform, metres, depth camera -> colour camera.
    camera_to_item:   (4, 4) float64 rigid transform, metres, colour camera -> item frame.
    depth_registered_to_color: bool, whether depth pixels align with colour pixels.
    timestamp_us:     device timestamp in microseconds.
    camera:           the full lens model (intrinsics + K4A distortion) of the image that
                      ``depth_intrinsics`` describes, as ``CameraModel.to_dict()`` of
                      thuman.capture.camera gives it, or None (pinhole / unknown; files before it).
    color_camera:     the same for the native colour camera, or None.
    """

    color: np.ndarray
    depth_mm: np.ndarray
    color_intrinsics: np.ndarray
    depth_intrinsics: np.ndarray
    depth_to_color: np.ndarray = field(default_factory=lambda: np.eye(4))
    camera_to_item: np.ndarray = field(default_factory=lambda: np.eye(4))
    depth_registered_to_color: bool = True
    timestamp_us: int = 0
    camera: Optional[dict] = None
    color_camera: Optional[dict] = None


@dataclass
class SMPLParams:
    """Body-model parameters aligned with the mesh.

    betas:         (B,) float32 shape coefficients (B = 10 for SMPL and the open model).
    global_orient: (3,) float32 axis-angle of the root, item frame.
    body_pose:     (69,) float32 axis-angle of the 23 body joints (SMPL order).
    transl:        (3,) float32 metres.
    model:         body model name: 'open' (the toolkit's open model), 'smpl' or 'smplx'.
    gender:        'neutral', 'male' or 'female'.
    fit_residual:  (2,) float32 metres, or None: mean and 95th percentile distance of the body's
                   vertices to the surface it was fitted to (``thuman_io.body.registration``);
                   None when the parameters were not fitted here (files without it read as None).
    """

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    model: str = "open"
    gender: str = "neutral"
    fit_residual: Optional[np.ndarray] = None

    @property
    def full_pose(self) -> np.ndarray:
        """(72,) float32: global orientation followed by the body pose."""
        return np.concatenate([self.global_orient, self.body_pose]).astype(np.float32)


@dataclass
class ItemMeta:
    """Metadata of one item.

    subject:        subject id, a string of digits and letters (e.g. '012').
    pose_index:     index of the pose within the subject (0, 1, ...).
    capture_time:   ISO 8601 UTC time of capture.
    device:         what captured it ('azure-kinect:<serial>', 'sim:<seed>', 'import:<source>').
    reference_pose: (72,) float32 pose shown to the subject (axis-angle), or None.
    postprocessing: names of the post-processing steps applied, in order.
    schema_version / toolkit_version: filled in by the writer.
    extra:          free-form JSON-serialisable details (processing parameters, notes).
    """

    subject: str
    pose_index: int
    capture_time: str = ""
    device: str = ""
    reference_pose: Optional[np.ndarray] = None
    postprocessing: list = field(default_factory=list)
    schema_version: int = 0
    toolkit_version: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Item:
    """One THuman item: a textured mesh, its body-model fit, metadata and (optionally) its frame."""

    mesh: TexturedMesh
    smpl: SMPLParams
    meta: ItemMeta
    frame: Optional[RGBDFrame] = None
