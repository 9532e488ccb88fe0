"""Run configuration: the paper's defaults, YAML/TOML files, overrides, clear errors; joint heat maps."""
import numpy as np
import pytest

from thuman.model.config import RunConfig, load_config, save_config
from thuman.model.joint_heatmaps import joint_heat_map, joint_heat_volume
from thuman_io.errors import InputError
from thuman_io.grid import SMALL_GRID
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)


def test_defaults_are_the_papers_numbers():
    c = RunConfig()
    assert (c.train.lr, c.train.batch_size, c.train.adam_betas) == (2e-4, 4, (0.9, 0.999))
    assert (c.loss.gamma, c.loss.lambda_fs, c.loss.lambda_ss, c.loss.lambda_n) == (0.7, 0.1, 0.1, 0.01)
    assert c.net.grid == (128, 192, 128) and c.net.encoder_channels == (8, 16, 32, 64, 128)
    assert (c.net.vft, c.net.representation, c.net.refine_normals) == ("multi", "semantic", True)


def test_yaml_toml_and_overrides_round_trip(tmp_path):
    (tmp_path / "a.yaml").write_text("train:\n  lr: 1e-3\n  stage1_steps: 7\nnet:\n  vft: finest\n")
    cfg = load_config(tmp_path / "a.yaml", ["train.batch_size=8", "net.refine_normals=false", "net.grid=[32,48,32]"])
    assert (cfg.train.lr, cfg.train.stage1_steps, cfg.train.batch_size) == (1e-3, 7, 8)
    assert (cfg.net.vft, cfg.net.refine_normals, cfg.net.grid) == ("finest", False, (32, 48, 32))
    save_config(cfg, tmp_path / "saved.yaml")
    again = load_config(tmp_path / "saved.yaml")
    assert again == cfg
    (tmp_path / "b.toml").write_text('[net]\nvft = "latent"\n[loss]\ngamma = 0.5\n')
    t = load_config(tmp_path / "b.toml")
    assert t.net.vft == "latent" and t.loss.gamma == 0.5


@pytest.mark.parametrize("override, message", [
    ("train.lrr=1", "unknown config key train.lrr"),
    ("net.vft=middle", "net.vft='middle'"),
    ("train.lr", "write section.key=value"),
    ("train.batch_size=two", "expected an integer"),
    ("optim.lr=1", "section must be net, loss or train"),
])
def test_bad_config_values_are_clear_errors(override, message):
    with pytest.raises(InputError, match=message):
        load_config(None, [override])


def test_missing_config_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_joint_heat_volume_and_map_peak_at_the_joint():
    joints = np.array([[0.1, 0.2, -0.05], [-0.2, -0.3, 0.1]])
    vol = joint_heat_volume(joints, SMALL_GRID, 1.5)
    assert vol.shape == (2,) + SMALL_GRID.shape and vol.max() <= 1
    for j in range(2):
        peak = np.array(np.unravel_index(vol[j].argmax(), SMALL_GRID.shape)) + 0.5
        assert np.abs(SMALL_GRID.index_to_view(peak) - joints[j]).max() <= SMALL_GRID.voxel_size
    hm = joint_heat_map(joints, SMALL_GRID, 1.5)
    assert hm.shape == (2, 96, 64)
    r, c = np.unravel_index(hm[0].argmax(), hm[0].shape)
    xy = SMALL_GRID.pixel_centres(2)[r, c]
    assert np.abs(xy - joints[0, :2]).max() <= SMALL_GRID.voxel_size / 2
