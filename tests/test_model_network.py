"""DeepHuman's network against Table 1, VFT (eq. 2) and the baseline switches."""
import pytest
import torch

from thuman.model.blocks import levels_for
from thuman.model.config import NetConfig
from thuman.model.deephuman import NUM_JOINTS, DeepHuman
from thuman.model.vft import VFTLayer, volumetric_feature_transform
from thuman_io.grid import PAPER_GRID, SMALL_GRID
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)

# Table 1, written as torch shapes (C, D, H, W) / (C, H, W); the paper prints x*y*z*C.
TABLE_1 = [
    ("G.conv1", (8, 96, 64)), ("G.conv2", (16, 48, 32)), ("G.conv3", (32, 24, 16)),
    ("G.conv4", (64, 12, 8)), ("G.conv5", (128, 6, 4)),
    ("H.conv1", (8, 64, 96, 64)), ("H.conv2", (16, 32, 48, 32)), ("H.conv3", (32, 16, 24, 16)),
    ("H.conv4", (64, 8, 12, 8)), ("H.conv5", (128, 4, 6, 4)),
    ("H.transconv1", (64, 8, 12, 8)), ("H.transconv2", (32, 16, 24, 16)),
    ("H.transconv3", (16, 32, 48, 32)), ("H.transconv4", (8, 64, 96, 64)),
    ("H.transconv5", (4, 128, 192, 128)), ("H.conv_sigmoid", (1, 128, 192, 128)),
    ("projection", (3, 384, 256)),
    ("R.conv1", (16, 192, 128)), ("R.conv2", (32, 96, 64)), ("R.conv3", (32, 48, 32)),
    ("R.conv4", (32, 24, 16)), ("R.conv5", (32, 12, 8)),
    ("R.transconv1", (32, 24, 16)), ("R.transconv2", (32, 48, 32)), ("R.transconv3", (32, 96, 64)),
    ("R.transconv4", (16, 192, 128)), ("R.transconv5", (8, 384, 256)), ("R.conv_tanh", (3, 384, 256)),
]


def test_every_layer_matches_table_1_at_full_resolution():
    torch.manual_seed(0)
    model = DeepHuman(NetConfig(grid=PAPER_GRID.shape))
    got = model.layer_shapes(batch_size=1)
    assert [(name, shape[1:]) for name, shape in got] == TABLE_1
    # Kernels and strides of Table 1.
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)):
            if m in (model.H.head, model.R.head[0]):
                assert m.kernel_size[0] == 3 and m.stride[0] == 1
            elif m.kernel_size[0] != 1:     # VFT's 1x1 convs are not Table 1 layers
                assert m.kernel_size[0] == 4 and m.stride[0] == 2


def test_small_grid_keeps_the_architecture_with_four_levels():
    assert levels_for(PAPER_GRID.shape, None) == 5
    assert levels_for(SMALL_GRID.shape, None) == 4      # 48 = 3 * 16: a fifth halving would not divide
    model = DeepHuman(NetConfig(grid=SMALL_GRID.shape))
    shapes = dict(model.layer_shapes())
    assert shapes["G.conv4"][1:] == (64, 3, 2)
    assert shapes["H.conv4"][1:] == (64, 2, 3, 2)
    assert shapes["H.conv_sigmoid"][1:] == (1, 32, 48, 32)
    assert shapes["R.conv5"][1:] == (32, 3, 2)            # R at 96 x 64 still has 5 levels
    assert shapes["R.conv_tanh"][1:] == (3, 96, 64)
    with pytest.raises(ValueError, match="do not divide"):
        DeepHuman(NetConfig(grid=SMALL_GRID.shape, levels=5))


def test_vft_applies_the_same_modulation_to_every_z_slice():
    g = torch.Generator().manual_seed(1)
    volume = torch.randn(2, 4, 5, 6, 3, generator=g)
    alpha, beta = torch.randn(2, 4, 6, 3, generator=g), torch.randn(2, 4, 6, 3, generator=g)
    out = volumetric_feature_transform(volume, alpha, beta)
    for z in range(5):
        assert torch.allclose(out[:, :, z], alpha * volume[:, :, z] + beta)
    with pytest.raises(ValueError):
        volumetric_feature_transform(volume, alpha[..., :2], beta)
    layer = VFTLayer(7, 4)
    assert layer(volume, torch.randn(2, 7, 6, 3, generator=g)).shape == volume.shape


@pytest.mark.parametrize("switch", [dict(vft="finest"), dict(vft="coarsest"), dict(vft="latent"),
                                    dict(refine_normals=False), dict(representation="joints")])
def test_baseline_switches_build_and_run(switch):
    cfg = NetConfig(grid=SMALL_GRID.shape, **switch)
    model = DeepHuman(cfg)
    p = NUM_JOINTS if cfg.representation == "joints" else 3
    d, h, w = SMALL_GRID.shape
    out = model(torch.rand(2, 3, 2 * h, 2 * w), torch.rand(2, p, 2 * h, 2 * w), torch.rand(2, p, d, h, w))
    assert out.occupancy.shape == (2, 1, d, h, w)
    assert ((out.occupancy >= 0) & (out.occupancy <= 1)).all()
    if cfg.refine_normals:
        assert out.normal_refined.shape == (2, 3, 2 * h, 2 * w)
    else:
        assert out.normal_refined is None and model.R is None
    n_vft = len(model.H.vft)
    assert n_vft == {"multi": 4, "finest": 1, "coarsest": 1, "latent": 0}[cfg.vft]
    if cfg.vft == "finest":
        assert "0" in model.H.vft
    if cfg.vft == "coarsest":
        assert "3" in model.H.vft


def test_image_guidance_changes_the_occupancy():
    """G's maps reach H through VFT: a different image gives a different volume."""
    torch.manual_seed(0)
    model = DeepHuman(NetConfig(grid=SMALL_GRID.shape))
    d, h, w = SMALL_GRID.shape
    sem_map, sem_vol = torch.rand(1, 3, 2 * h, 2 * w), torch.rand(1, 3, d, h, w)
    a = model(torch.zeros(1, 3, 2 * h, 2 * w), sem_map, sem_vol).occupancy_logits
    b = model(torch.ones(1, 3, 2 * h, 2 * w), sem_map, sem_vol).occupancy_logits
    assert (a - b).abs().max() > 1e-6
