"""The toolkit version and every schema version. This module owns them; everyone imports them."""

TOOLKIT_VERSION = "0.1.0"

#: THuman item files (one HDF5 file per item). See docs/format.md.
ITEM_SCHEMA = "thuman.item"
ITEM_SCHEMA_VERSION = 1

#: Synthesized training corpora (sharded HDF5). See docs/format.md.
CORPUS_SCHEMA = "thuman.corpus"
CORPUS_SCHEMA_VERSION = 1

#: The toolkit's own RGB-D recordings. See docs/format.md.
RECORDING_SCHEMA = "thuman.recording"
RECORDING_SCHEMA_VERSION = 1
