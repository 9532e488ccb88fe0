"""thuman_io.body: body models (the open model and real SMPL/SMPL-X through smplx), semantic
codes and the pose library. torch and smplx are imported lazily, where a model is built."""
from thuman_io.body.joints import JOINT_NAMES, PARENTS
from thuman_io.body.model import BodyModel, BodyOutput, cached_body_model, load_body_model
from thuman_io.body.model_files import open_model_dir
from thuman_io.body.semantic import semantic_code

__all__ = ["semantic_code", "load_body_model", "cached_body_model", "BodyModel", "BodyOutput", "JOINT_NAMES", "PARENTS",
           "open_model_dir"]
