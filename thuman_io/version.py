"""The toolkit version and every schema version. This module owns them; everyone imports them."""

TOOLKIT_VERSION = "0.1.0"

#: THuman item files (one HDF5 file per item). See docs/format.md.
ITEM_SCHEMA = "thuman.item"
ITEM_SCHEMA_VERSION = 1

#: Synthesized training corpora (sharded HDF5). See docs/format.md.
CORPUS_SCHEMA = "thuman.corpus"
CORPUS_SCHEMA_VERSION = 1

#: The toolkit's own RGB-D recordings. See docs/format-recording.md. Version 2 adds the lens
#: (``camera``, ``color_camera``) and the K4A factory calibration; version 1 files still read.
RECORDING_SCHEMA = "thuman.recording"
RECORDING_SCHEMA_VERSION = 2
