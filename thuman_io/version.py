"""The toolkit version, every schema version and the HDF5 file-format bounds. This module owns
them; everyone imports them."""

TOOLKIT_VERSION = "0.1.0"

#: THuman item files (one HDF5 file per item). See docs/format.md.
ITEM_SCHEMA = "thuman.item"
#: Version 2: HDF5 file format bounded by :data:`HDF5_LIBVER`, gzip + shuffle + Fletcher-32 only
#: (HDF5 1.10 tools, MATLAB, HDFView and h5py >= 3.0 read it). Version 1 (toolkit 0.1 before
#: this change) had the same fields but was written with ``libver="latest"`` (the HDF5 2.0 file
#: format under h5py 3.16) and the h5py-only ``lzf`` filter; ``thuman migrate`` rewrites it.
ITEM_SCHEMA_VERSION = 2
#: Item schema versions this toolkit reads (the fields are the same; only the HDF5 layout differs).
ITEM_READABLE_VERSIONS = (1, 2)

#: Synthesized training corpora (sharded HDF5). See docs/format.md.
CORPUS_SCHEMA = "thuman.corpus"
CORPUS_SCHEMA_VERSION = 1

#: The toolkit's own RGB-D recordings. See docs/format-recording.md. Version 2 adds the lens
#: (``camera``, ``color_camera``) and the K4A factory calibration; version 1 files still read.
RECORDING_SCHEMA = "thuman.recording"
RECORDING_SCHEMA_VERSION = 2

#: ``h5py.File(..., libver=HDF5_LIBVER)`` for every HDF5 file the toolkit writes: the HDF5 1.10
#: file format exactly, which every HDF5 library from 1.10 on reads (h5dump/HDFView/MATLAB on
#: 1.10+, h5py >= 3.0). ``libver="latest"`` under h5py 3.16 writes the HDF5 2.0 format, which
#: h5py 3.11 (HDF5 1.14) and Debian's h5dump 1.10 cannot read. The lower bound is 1.10 and not
#: 1.8 because 1.10's single-chunk index and object headers carry checksums: measured here, with
#: ("v108", "v110") a small item was 55 kB and 39 of 150 random bit flips were detected (the rest
#: hit unused B-tree space); with ("v110", "v110") 16 kB and 127 of 150 (docs/format.md).
HDF5_LIBVER = ("v110", "v110")
