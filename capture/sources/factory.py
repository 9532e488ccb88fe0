"""Open a frame source by name: ``k4a`` (live camera), ``playback`` (a toolkit recording or an Azure
Kinect ``.mkv``), ``sim`` (the simulated subject). Heavy modules are imported per source."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from thuman.capture.frames import FrameSource
from thuman_io.errors import InputError

SOURCE_NAMES = ("k4a", "sim", "playback")


def open_source(name: str, file: Optional[str | os.PathLike] = None, *, seed: int = 0,
                depth_mode: str = "NFOV_UNBINNED", fps: Optional[float] = None, device_index: int = 0,
                color_resolution: str = "720p", seconds: Optional[float] = None, **sim_options) -> FrameSource:
    """A frame source.

    k4a: live Azure Kinect / Orbbec Femto (``device_index``, ``depth_mode``, ``color_resolution``,
    ``fps`` 5/15/30). playback: ``file`` is a toolkit recording (any name) or a K4A ``.mkv``.
    sim: the simulated subject (``seed``, ``depth_mode``, ``fps``, ``seconds`` and any
    :class:`~thuman.capture.sim.source.SimSource` option in ``sim_options``).
    """
    if name == "k4a":
        from thuman.capture.sources.k4a import K4ASource
        return K4ASource(device_index=device_index, depth_mode=depth_mode, color_resolution=color_resolution,
                         fps=int(fps or 30))
    if name == "playback":
        if file is None:
            raise InputError(None, "--source playback needs a file: --file RECORDING")
        path = Path(file)
        if path.suffix.lower() == ".mkv":
            from thuman.capture.sources.k4a import MkvSource
            return MkvSource(path)
        from thuman.capture.sources.recording import RecordingSource
        return RecordingSource(path)
    if name == "sim":
        from thuman.capture.sim.source import SimSource
        return SimSource(seed=seed, depth_mode_name=depth_mode, fps=float(fps or 30.0), seconds=seconds, **sim_options)
    raise InputError(None, f"source '{name}' unknown; use one of {', '.join(SOURCE_NAMES)}")
