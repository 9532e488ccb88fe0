"""Frame sources: Azure Kinect live and .mkv playback (pyk4a, optional), the toolkit's own
recordings, and the simulated subject (``thuman.capture.sim``). Use :func:`open_source` to get one
by name; heavy packages load only when a source that needs them is opened."""
from thuman.capture.sources.factory import SOURCE_NAMES, open_source

__all__ = ["SOURCE_NAMES", "open_source"]
