"""thuman_io: the THuman dataset library. Needs numpy and h5py only at import time.

Read items::

    import thuman_io
    ds = thuman_io.open_dataset("data/thuman")
    for ref in ds.items(subject="012"):
        item = ref.load(frame=False)      # the mesh and SMPL fit, without the RGB-D frame

Serve them to PyTorch (torch is imported only when these are used)::

    loader = torch.utils.data.DataLoader(thuman_io.TorchItemDataset("data/thuman", split="train"),
                                         batch_size=4, num_workers=2, collate_fn=thuman_io.collate_items)
    loader = torch.utils.data.DataLoader(thuman_io.TorchCorpusDataset("corpus/", split="train"),
                                         batch_size=4, num_workers=2)

See docs/format.md for the schema and docs/architecture.md for the rest of the toolkit.
"""
from thuman_io.errors import (BodyModelError, DeviceError, InputError, SchemaError, SourceFault,
                              ThumanError, TrainingError)
from thuman_io.grid import PAPER_GRID, SMALL_GRID, VolumeGrid
from thuman_io.item import Item, ItemMeta, RGBDFrame, SMPLParams, TexturedMesh
from thuman_io.sample import CorpusSample
from thuman_io.version import (CORPUS_SCHEMA_VERSION, ITEM_SCHEMA_VERSION, RECORDING_SCHEMA_VERSION,
                               TOOLKIT_VERSION)
from thuman_io.storage import read_item, write_item
from thuman_io.dataset import open_dataset
from thuman_io.validate import validate_dataset, validate_item

__version__ = TOOLKIT_VERSION

#: Names served from their modules on first use (PEP 562), so ``import thuman_io`` stays light.
_LAZY = {"TorchItemDataset": "thuman_io.torch_items", "collate_items": "thuman_io.torch_items",
         "TorchCorpusDataset": "thuman_io.corpus", "open_corpus": "thuman_io.corpus",
         "validate_corpus": "thuman_io.corpus_validate", "migrate_path": "thuman_io.migrate"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'thuman_io' has no attribute {name!r}")

__all__ = [
    "BodyModelError", "DeviceError", "InputError", "SchemaError", "SourceFault", "ThumanError",
    "TrainingError", "PAPER_GRID", "SMALL_GRID", "VolumeGrid", "Item", "ItemMeta", "RGBDFrame",
    "SMPLParams", "TexturedMesh", "CorpusSample", "CORPUS_SCHEMA_VERSION", "ITEM_SCHEMA_VERSION",
    "RECORDING_SCHEMA_VERSION", "TOOLKIT_VERSION", "read_item", "write_item", "open_dataset",
    "validate_dataset", "validate_item", *_LAZY,
]
