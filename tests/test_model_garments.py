"""Garments that stand off the body: the simulator's 'thuman' wardrobe (training data for DeepHuman)."""
import numpy as np
import pytest

from thuman.capture.sim.outfit import GARMENT_CLASSES, garment_class, sample_outfit


def _outfits(wardrobe, n=200):
    return [sample_outfit(np.random.default_rng([s, 0x5B7EC7]), wardrobe) for s in range(n)]


def test_the_thuman_wardrobe_covers_what_thuman_shows():
    outfits = _outfits("thuman")
    garments = {g for o in outfits for g in o.garments()}
    for g in ("skirt", "dress", "open jacket", "closed jacket", "open coat", "closed coat", "hoodie",
              "wide trousers", "loose shirt", "shorts", "short hair", "long hair", "tied hair", "shoes"):
        assert g in garments, g
    lengths = [o.skirt_length for o in outfits if o.skirt_length is not None]
    assert min(lengths) < 0.3 and max(lengths) > 0.8           # short and long skirts and dresses
    assert {o.shirt_pattern for o in outfits} >= {"plain", "stripes", "checks", "print"}
    assert len({tuple(o.skin_color) for o in outfits}) == 5
    assert {garment_class(o) for o in outfits} == set(GARMENT_CLASSES)


def test_wardrobes_are_deterministic_per_seed_and_basic_is_unchanged():
    a, b = _outfits("thuman", 20), _outfits("thuman", 20)
    assert [repr(x) for x in a] == [repr(y) for y in b]
    # The basic wardrobe draws what it always drew (the capture tests' subjects): these are the
    # outfits of simulator seeds 0-5 before the thuman wardrobe existed.
    assert [o.garments() for o in _outfits("basic", 6)] == [
        ["shirt", "shorts", "short hair", "shoes"], ["shirt", "skirt", "long hair", "shoes"],
        ["shirt", "trousers", "long hair", "shoes"], ["shirt", "shorts", "long hair", "shoes"],
        ["shirt", "trousers", "short hair", "shoes"], ["dress", "long hair", "shoes"]]
    with pytest.raises(ValueError, match="wardrobe 'x'"):
        sample_outfit(np.random.default_rng(0), "x")


def test_a_coat_stands_off_the_body_and_stays_watertight():
    """Seed 4 of the thuman wardrobe wears an open coat over trousers: a closed mesh whose
    occupancy at the small grid exceeds the body's by far more than a fitted outfit's does."""
    import trimesh

    from thuman.capture.sim.subject import LABELS, make_subject
    from thuman.synth.standoff import body_clothed_iou
    from thuman_io.grid import SMALL_GRID

    s = make_subject(4, wardrobe="thuman", disk_cache=False)
    assert "open coat" in s.outfit.garments()
    mesh = trimesh.Trimesh(s.vertices, s.faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert "outer" in {LABELS[i] for i in np.unique(s.labels)}
    coat = body_clothed_iou(s, SMALL_GRID)
    assert garment_class(s.outfit) == "coat" and coat < 0.6
    fitted = body_clothed_iou(make_subject(4), SMALL_GRID)          # basic: trousers and a shirt
    assert fitted > coat + 0.1
