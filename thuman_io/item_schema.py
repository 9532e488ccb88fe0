"""The THuman item schema (v2; v1 has the same fields in another HDF5 layout), field by field: the one table the writer, the reader, the validator
and ``docs/format.md`` agree on (a test compares the doc's table with :data:`FIELDS`).

One item is one HDF5 file. Its root attributes are ``schema`` (= ``thuman.item``),
``schema_version`` and ``toolkit_version``. Every dataset below carries a ``units`` attribute.
Shapes use symbols: ``V`` vertices, ``F`` faces, ``Ht x Wt`` texture, ``Hc x Wc`` colour image,
``Hd x Wd`` depth image, ``B`` shape coefficients; a number is a fixed size.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One HDF5 dataset of an item.

    path:     HDF5 path inside the file ('mesh/vertices').
    dtype:    numpy dtype name on disk ('float32', 'int32', 'uint8', 'uint16', 'float64').
    shape:    tuple of symbols or ints, e.g. ('V', 3).
    units:    the ``units`` attribute written with it ('m', 'mm', 'px', 'rad', '1', 'rgb8').
    required: False for fields that may be absent (texture, frame, reference pose).
    """

    path: str
    dtype: str
    shape: tuple
    units: str
    required: bool
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("mesh/vertices", "float32", ("V", 3), "m",
          True, "vertex positions, item frame (metres, Y up)"),
    Field("mesh/faces", "int32", ("F", 3), "1",
          True, "triangles, indices into vertices, counter-clockwise seen from outside"),
    Field("mesh/vertex_colors", "uint8", ("V", 3), "rgb8",
          False, "per-vertex RGB colour"),
    Field("mesh/uv", "float32", ("V", 2), "1",
          False, "texture coordinates in [0, 1], origin bottom-left (OBJ convention)"),
    Field("mesh/texture", "uint8", ("Ht", "Wt", 3), "rgb8",
          False, "texture image, row 0 at the top; present only with mesh/uv"),
    Field("smpl/betas", "float32", ("B",), "1",
          True, "shape coefficients (B = 10 for SMPL and the open model)"),
    Field("smpl/global_orient", "float32", (3,), "rad",
          True, "axis-angle of the root joint, item frame"),
    Field("smpl/body_pose", "float32", (69,), "rad",
          True, "axis-angle of the 23 body joints, SMPL joint order"),
    Field("smpl/transl", "float32", (3,), "m",
          True, "translation added after posing (SMPL convention: rotation about the root joint)"),
    Field("smpl/fit_residual", "float32", (2,), "m",
          False, "mean and 95th percentile distance of the body's vertices to the surface it was fitted to"),
    Field("meta/reference_pose", "float32", (72,), "rad",
          False, "the pose shown to the subject (global orientation + body pose)"),
    Field("frame/color", "uint8", ("Hc", "Wc", 3), "rgb8",
          False, "colour image of the frame the item was captured from"),
    Field("frame/depth_mm", "uint16", ("Hd", "Wd"), "mm",
          False, "depth image, 0 = no measurement"),
    Field("frame/color_intrinsics", "float64", (3, 3), "px",
          False, "pinhole matrix of the colour camera"),
    Field("frame/depth_intrinsics", "float64", (3, 3), "px",
          False, "pinhole matrix of the depth image (equals color_intrinsics when registered)"),
    Field("frame/depth_to_color", "float64", (4, 4), "m",
          False, "rigid transform depth camera -> colour camera"),
    Field("frame/camera_to_item", "float64", (4, 4), "m",
          False, "rigid transform colour camera -> item frame"),
)

#: Attributes (group path, attribute name, type, required, doc).
ATTRIBUTES: tuple[tuple[str, str, str, bool, str], ...] = (
    ("/", "schema", "str", True, "'thuman.item'"),
    ("/", "schema_version", "int", True, "item schema version (2; 1 still reads)"),
    ("/", "toolkit_version", "str", True, "version of the toolkit that wrote the file"),
    ("smpl", "model", "str", True, "body model the parameters refer to: 'open', 'smpl' or 'smplx'"),
    ("smpl", "gender", "str", True, "'neutral', 'male' or 'female'"),
    ("meta", "subject", "str", True, "subject id (letters, digits, '-', '_'); equals the folder name"),
    ("meta", "pose_index", "int", True, "pose index within the subject; equals the file name"),
    ("meta", "capture_time", "str", True, "ISO 8601 UTC time of capture ('' when unknown)"),
    ("meta", "device", "str", True, "'azure-kinect:<serial>', 'sim:<seed>' or 'import:<source>'"),
    ("meta", "postprocessing", "str", True, "JSON list of the post-processing steps, in order"),
    ("meta", "extra", "str", True, "JSON object of free-form details"),
    ("frame", "depth_registered_to_color", "bool", False, "depth pixels align with colour pixels"),
    ("frame", "timestamp_us", "int", False, "device timestamp, microseconds"),
    ("frame", "camera", "str", False, "JSON lens model of the depth image (CameraModel.to_dict: fx, fy, cx, cy, "
                                      "k1-k6, p1, p2, codx, cody, metric_radius, model); absent = pinhole"),
    ("frame", "color_camera", "str", False, "JSON lens model of the native colour camera; absent = unknown"),
)

#: Attributes that files written before them lack even where their group exists (readers default them).
OPTIONAL_ATTRIBUTES = frozenset({("frame", "camera"), ("frame", "color_camera")})

BODY_MODELS = ("open", "smpl", "smplx")
GENDERS = ("neutral", "male", "female")
FRAME_FIELDS = tuple(f for f in FIELDS if f.path.startswith("frame/"))
FIELD_BY_PATH = {f.path: f for f in FIELDS}
