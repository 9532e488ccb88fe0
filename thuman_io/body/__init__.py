"""thuman_io.body: body models (the open model and real SMPL/SMPL-X through smplx), semantic
codes and the pose library. torch and smplx are imported lazily, where a model is built."""
from thuman_io.body.semantic import semantic_code

__all__ = ["semantic_code"]
