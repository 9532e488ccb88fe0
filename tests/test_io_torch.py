"""The PyTorch-style item dataset, read from DataLoader worker processes."""
import numpy as np
import pytest

import thuman_io
from thuman_io.errors import InputError
from thuman_io.testing import make_synthetic_item
from thuman_io.torch_items import TorchItemDataset, collate_items

torch = pytest.importorskip("torch")


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(2)
    for s in range(4):
        for p in range(2):
            thuman_io.write_item(tmp_path, make_synthetic_item(rng, f"p{s}", p, n_vertices=150 + 40 * s,
                                                               frame_size=(24, 32), with_frame=(s != 3)))
    return tmp_path


def test_items_through_dataloader_workers(dataset):
    ds = TorchItemDataset(dataset)
    assert len(ds) == 8
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate_items)
    seen = []
    for batch in loader:
        assert batch["betas"].shape[1:] == (10,) and batch["body_pose"].dtype == torch.float32
        assert batch["index"].dtype == torch.int64
        for i, index in enumerate(batch["index"].tolist()):
            item = thuman_io.read_item(ds.paths[index], frame=False)
            assert torch.equal(batch["vertices"][i], torch.from_numpy(item.mesh.vertices))
            assert torch.equal(batch["faces"][i], torch.from_numpy(item.mesh.faces.astype(np.int64)))
            assert torch.equal(batch["transl"][i], torch.from_numpy(item.smpl.transl))
            assert batch["item_id"][i] == f"{item.meta.subject}/{item.meta.pose_index:04d}"
            seen.append(index)
    assert sorted(seen) == list(range(8))


def test_split_and_frames(dataset):
    split = thuman_io.open_dataset(dataset).split_subjects(seed=0)
    train = TorchItemDataset(dataset, split="train", seed=0)
    assert {i.split("/")[0] for i in train.item_ids} == set(split["train"])
    ds = TorchItemDataset(dataset, subject="p0", frame=True)
    sample = ds[0]
    assert sample["color"].shape == (3, 24, 32) and 0.0 <= float(sample["color"].min()) <= 1.0
    assert sample["depth_m"].shape == (1, 24, 32) and float(sample["depth_m"].max()) < 3.0
    with pytest.raises(InputError, match="no RGB-D frame"):
        TorchItemDataset(dataset, subject="p3", frame=True)[0]
