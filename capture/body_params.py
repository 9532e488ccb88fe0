"""The body's state in tracking: what one frame stores (``BodyState``) and what the solver moves
(``BodyParams``, with the named column layout of every Jacobian, ``ParamLayout``).

No code indexes a parameter vector by number: the solver's flat vector x and the columns of each
energy term's Jacobian follow ``ParamLayout`` (orientation, body pose, translation, then the shape
coefficients when they are unknowns), and every term reads ``BodyParams`` by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np
import torch

from thuman_io.item import SMPLParams


@dataclass
class BodyState:
    """The body model's parameters and posed surface in one frame (capture frame, metres).

    betas (B,), global_orient (3,), body_pose (69,), transl (3,): float32 numpy.
    vertices (V, 3), joints (24, 3): float32 posed surface and joints.
    residual_m: RMS point-to-plane distance of the depth points used, metres.
    """

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    vertices: Optional[np.ndarray] = None
    joints: Optional[np.ndarray] = None
    residual_m: float = float("nan")

    @property
    def full_pose(self) -> np.ndarray:
        return np.concatenate([self.global_orient, self.body_pose]).astype(np.float32)

    def to_smpl_params(self, model: str = "open", gender: str = "neutral") -> SMPLParams:
        return SMPLParams(betas=self.betas.astype(np.float32), global_orient=self.global_orient.astype(np.float32),
                          body_pose=self.body_pose.astype(np.float32), transl=self.transl.astype(np.float32),
                          model=model, gender=gender)


@dataclass(frozen=True)
class ParamLayout:
    """Columns of the solver's vector and of every Jacobian: orientation (3), body pose (69),
    translation (3), then ``num_betas`` shape coefficients (0 when the shape is held fixed)."""

    num_betas: int = 0
    orient: ClassVar[slice] = slice(0, 3)
    body_pose: ClassVar[slice] = slice(3, 72)
    pose: ClassVar[slice] = slice(0, 72)
    transl: ClassVar[slice] = slice(72, 75)

    @property
    def betas(self) -> slice:
        return slice(75, 75 + self.num_betas)

    @property
    def size(self) -> int:
        return 75 + self.num_betas

    def columns(self, *names: str) -> list:
        """Column indices of the named parts, e.g. ``columns('orient', 'transl')``."""
        out: list = []
        for name in names:
            s = getattr(self, name)
            out.extend(range(s.start, s.stop))
        return out


@dataclass
class BodyParams:
    """The unknowns of one frame, float64 torch: global_orient (3,) and body_pose (69,) axis-angle,
    radians; transl (3,) metres; betas (B,) shape coefficients. fit_shape: the betas are unknowns
    (they get Jacobian columns); otherwise they are fixed data."""

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    transl: torch.Tensor
    betas: torch.Tensor
    fit_shape: bool = False

    @property
    def layout(self) -> ParamLayout:
        return ParamLayout(len(self.betas) if self.fit_shape else 0)

    @property
    def pose72(self) -> torch.Tensor:
        return torch.cat([self.global_orient, self.body_pose])

    def vector(self) -> torch.Tensor:
        """(layout.size,) the unknowns in layout order."""
        parts = [self.global_orient, self.body_pose, self.transl] + ([self.betas] if self.fit_shape else [])
        return torch.cat(parts)

    def with_vector(self, x: torch.Tensor) -> "BodyParams":
        """The same parameters with the unknowns replaced by ``x`` (layout order)."""
        lay = self.layout
        return BodyParams(global_orient=x[lay.orient], body_pose=x[lay.body_pose], transl=x[lay.transl],
                          betas=x[lay.betas] if self.fit_shape else self.betas, fit_shape=self.fit_shape)

    @classmethod
    def from_state(cls, state: BodyState, fit_shape: bool, device="cpu") -> "BodyParams":
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64, device=device)  # noqa: E731
        return cls(global_orient=t(state.global_orient), body_pose=t(state.body_pose), transl=t(state.transl),
                   betas=t(state.betas), fit_shape=fit_shape)
