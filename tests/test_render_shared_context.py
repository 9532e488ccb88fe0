"""The synthesizer's and the simulator's pyrender renderers live in one process (thuman demo does
this): closing one must not break the other (pyrender's delete() terminates the shared EGL display)."""
import numpy as np

from thuman.capture.sim.sensor import DEPTH_MODES, SceneMesh, SimSensor
from thuman.synth.render.renderer import OrthoRenderer
from thuman_io.grid import SMALL_GRID


def _square_view():
    v = np.array([[-0.2, -0.2, 0.0], [0.2, -0.2, 0.0], [0.2, 0.2, 0.0], [-0.2, 0.2, 0.0]], np.float32)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_closing_a_synth_renderer_keeps_the_simulator_rendering():
    v, f = _square_view()
    ortho = OrthoRenderer(SMALL_GRID)
    _, alpha = ortho.flat_pass(v, f, colors=np.ones((4, 3)), scale=1)
    assert alpha.sum() > 0
    ortho.close()
    sensor = SimSensor(mode=DEPTH_MODES["NFOV_2X2BINNED"], seed=0)
    quad = SceneMesh(np.array([[-1, -1, -1.5], [1, -1, -1.5], [1, 1, -1.5], [-1, 1, -1.5]], np.float32),
                     np.array([[0, 1, 2], [0, 2, 3]]), np.full((4, 3), 200, np.uint8))
    _, _, exact = sensor.measure([quad], frame_index=0)
    np.testing.assert_allclose(exact[exact > 0], 1.5, atol=1e-5)
    # And a new synth renderer still works after the simulator rendered.
    ortho2 = OrthoRenderer(SMALL_GRID)
    _, alpha2 = ortho2.flat_pass(v, f, colors=np.ones((4, 3)), scale=1)
    np.testing.assert_array_equal(alpha, alpha2)
    sensor.close()
