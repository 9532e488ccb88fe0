"""The pose-prompt displays of stage 2: the Tk window on a real (virtual) X server, the choice of
display by mode, the PNG record, and a session that outlives the window being closed.

The window tests start ``Xvfb`` (Debian package ``xvfb``) on a free display number and point
$DISPLAY at it for the test only; they skip, saying so, when Xvfb is not installed. What the
window shows is checked on the X server's screen, grabbed with Pillow.
"""
import os
import select
import shutil
import subprocess
import time

import numpy as np
import pytest

from capture_fixtures import TurningBodySource, session_config
from cli_runner import run_cli


@pytest.fixture(scope="module")
def bm():
    from thuman_io.body import load_body_model

    return load_body_model("open")


@pytest.fixture(scope="module")
def xvfb():
    """A virtual X server for this module; yields its display name (':N')."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): the prompt window needs an X display")
    read_fd, write_fd = os.pipe()
    # -displayfd: the server picks a free display number itself and writes it when ready, so
    # parallel test runs never race for one.
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=[write_fd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 20.0)
        number = os.read(read_fd, 32).decode().strip() if ready else ""
        if not number:
            proc.kill()
            pytest.fail(f"Xvfb did not start: {proc.communicate(timeout=5)[1].decode(errors='replace')[-500:]}")
        yield f":{number}"
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def display(xvfb, monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb


@pytest.fixture
def no_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def _screen_picture(display, win, expect, tries=20):
    """The window's picture as the X server shows it, (h, w, 3) int. The server draws
    asynchronously: grab again (up to ``tries`` times) until it shows ``expect``."""
    from PIL import ImageGrab, features

    if not features.check("xcb"):
        pytest.skip("Pillow was built without XCB: it cannot grab the X screen")
    h, w = expect.shape[:2]
    for _ in range(tries):
        win.root.update()
        x, y = win.picture_origin()
        shot = np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))[y:y + h, x:x + w].astype(int)
        if shot.shape == expect.shape and np.abs(shot - expect).max() <= 2:
            break
        time.sleep(0.05)
    return shot


def _pose(joint, axis, angle):
    p = np.zeros(72, np.float32)
    p[joint * 3 + axis] = angle
    return p


def test_window_shows_reference_left_and_refreshes_live_right_on_screen(display, bm, tmp_path):
    from thuman.capture.prompt import prompt_image, shaded_view
    from thuman.capture.prompt_display import PromptWindow, open_prompt_display
    from thuman.capture.session import SessionStatus

    win = open_prompt_display("window", tmp_path / "prompts")
    assert isinstance(win, PromptWindow) and "images also in" in win.description
    try:
        ref_v, faces = bm.posed_mesh(None, _pose(18, 1, -1.2))      # left elbow bent
        live0, _ = bm.posed_mesh()                                    # T-pose
        live1, _ = bm.posed_mesh(None, _pose(16, 2, -1.1) + _pose(17, 2, 1.1))  # arms down
        win.min_wall_s = 0.0  # stream time alone paces the renders here
        win.show(ref_v, faces, 0, 2, 10.0, 6.0, pose_index=3, live=lambda: (live0, faces))
        assert win.renders == 1
        h, w = win.panel
        left = shaded_view(ref_v, faces, win.panel)
        shot = _screen_picture(display, win, win.image)
        assert np.abs(shot - win.image).max() <= 2, "the window does not show the composed prompt"
        assert np.abs(shot[:, :w] - left).max() <= 2, "left panel is not the reference render"
        assert (np.abs(shot[:, :w] - 40).sum(-1) > 30).mean() > 0.05  # a body, not an empty panel
        before_right = shot[:, -w:].copy()

        # 0.2 s of stream time later: too soon to re-render the live panel; the countdown moves.
        assert win.update(lambda: (live1, faces), SessionStatus("imitate", 31, 10.2, 3.0, 0.9, 0.004, 0)) is None
        assert win.renders == 1 and win.updates == 1
        assert win.headline.cget("text") == "Pose 1 of 2: hold it, 5.8 s left"
        # 0.6 s after the prompt: the live panel is re-rendered from the new live mesh.
        win.update(lambda: (live1, faces), SessionStatus("imitate", 32, 10.6, 3.0, 0.9, 0.004, 1))
        assert win.renders == 2 and win.updates == 2
        assert "5.4 s left" in win.headline.cget("text") and "1 of 2 saved" in win.detail.cget("text")
        shot = _screen_picture(display, win, win.image)
        right = shaded_view(live1, faces, win.panel)
        assert np.abs(shot[:, -w:] - right).max() <= 2, "right panel is not the new live render"
        assert np.abs(shot[:, -w:] - before_right).mean() > 3, "the live panel did not change on screen"
        assert np.abs(shot[:, :w] - left).max() <= 2, "the reference panel changed"
        # The record of what was prompted: the PNG of the images mode.
        from PIL import Image

        png = np.asarray(Image.open(tmp_path / "prompts" / "prompt_0003.png"))
        np.testing.assert_array_equal(png, prompt_image((ref_v, faces), (live0, faces)))
    finally:
        win.close()
    assert not win.open
    win.close()  # idempotent


def test_stage_one_text_shows_coverage(display, bm):
    from thuman.capture.prompt_display import PromptWindow
    from thuman.capture.session import SessionStatus

    win = PromptWindow(min_wall_s=0.0)
    try:
        v, faces = bm.posed_mesh()
        win.update(lambda: (v, faces), SessionStatus("turn", 4, 1.3, 2.5, 0.42, 0.003, 0))
        assert win.headline.cget("text") == "Turn slowly in front of the camera"
        assert "coverage 42 %" in win.detail.cget("text")
        assert win.renders == 1  # the live reconstruction is shown while the subject turns
        win.update(None, SessionStatus("turn", 5, 2.0, 2.5, 0.5, 0.003, 0))  # nothing fused: keep
        assert win.renders == 1 and win.updates == 2
    finally:
        win.close()


def test_auto_without_display_writes_images_and_window_is_a_one_line_error(no_display, tmp_path, monkeypatch):
    from thuman.capture.prompt_display import ImagePrompts, PromptDisplay, open_prompt_display
    from thuman_io.errors import DeviceError

    d = open_prompt_display("auto", tmp_path)
    assert isinstance(d, ImagePrompts) and d.prompt_dir == tmp_path
    assert "$DISPLAY is not set" in d.description
    assert type(open_prompt_display("auto", None)) is PromptDisplay
    assert type(open_prompt_display("none", tmp_path)) is PromptDisplay
    with pytest.raises(DeviceError) as info:
        open_prompt_display("window", tmp_path)
    assert str(info.value) == "no display: $DISPLAY is not set; use --prompt images"
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(DeviceError, match=r"\$WAYLAND_DISPLAY is set but \$DISPLAY is not"):
        open_prompt_display("window", tmp_path)
    # $DISPLAY naming a server that does not exist: Tk cannot connect.
    number = next(n for n in range(1900, 2000) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    monkeypatch.setenv("DISPLAY", f":{number}")
    d = open_prompt_display("auto", tmp_path)
    assert isinstance(d, ImagePrompts) and "Tk cannot connect" in d.description
    with pytest.raises(DeviceError, match="Tk cannot connect.*use --prompt images"):
        open_prompt_display("window", tmp_path)


def test_cli_prompt_window_without_display_fails_in_one_line(no_display, tmp_path, capsys):
    code, out, err = run_cli(["capture", "--subject", "012", "--prompt", "window", "--out", str(tmp_path)], capsys)
    assert code == 1
    assert err.strip().splitlines()[-1] == ("thuman: error: no display: $DISPLAY is not set; "
                                            "use --prompt images")
    assert not (tmp_path / "012").exists()
    code, out, err = run_cli(["capture", "--subject", "012", "--prompt", "window", "--no-prompts",
                              "--out", str(tmp_path)], capsys)
    assert code == 2 and "--no-prompts contradicts --prompt window" in err
    code, out, err = run_cli(["capture", "--help"], capsys)
    assert code == 0 and "--prompt [auto|window|images|none]" in out


POSES = [_pose(18, 1, -1.0), _pose(16, 2, 0.3)]


def test_session_with_window_runs_to_the_end_updating_it(display, bm, tmp_path):
    import thuman_io
    from thuman.capture.prompt_display import ImagePrompts, PromptWindow
    from thuman.capture.session import CaptureSession

    win = PromptWindow(images=ImagePrompts(tmp_path / "prompts"), min_wall_s=0.0)
    headlines = []
    src = TurningBodySource(bm, fps=3, turn_s=3.0, total_s=12.0, turn_rad=np.pi)
    res = CaptureSession(src, bm, tmp_path, session_config("012"), lambda k: POSES[k],
                         on_status=lambda s: headlines.append(win.headline.cget("text")),
                         prompt_display=win).run()
    assert res.stop_reason == "done" and len(res.items) == 2 and not res.warnings
    assert all(thuman_io.validate_item(p) == [] for p in res.items)
    assert win.updates == res.frames  # every frame reached the window
    # The live panel: re-rendered every 0.5 s of stream time (every 2nd frame at 3 fps), plus
    # once per prompt; never on every frame.
    assert res.frames // 2 - 1 <= win.renders <= res.frames // 2 + 3, (win.renders, res.frames)
    assert headlines[0] == "Turn slowly in front of the camera"
    assert any(h.startswith("Pose 1 of 2: hold it") for h in headlines)
    assert any(h.startswith("Pose 2 of 2: hold it") for h in headlines)
    assert sorted(p.name for p in (tmp_path / "prompts").iterdir()) == ["prompt_0000.png", "prompt_0001.png"]
    assert not win.open  # the session closed it


def test_user_closing_the_window_does_not_stop_the_capture(display, bm, tmp_path):
    import thuman_io
    from thuman.capture.prompt_display import ImagePrompts, PromptWindow
    from thuman.capture.session import CaptureSession

    win = PromptWindow(images=ImagePrompts(tmp_path / "prompts"), min_wall_s=0.0)
    statuses, updates_at_close = [], []

    def on_status(s):
        statuses.append(s)
        if s.stage == "imitate" and win.open and not updates_at_close:
            updates_at_close.append(win.updates)
            win.root.destroy()  # as the window manager does when the user closes it

    src = TurningBodySource(bm, fps=3, turn_s=3.0, total_s=12.0, turn_rad=np.pi)
    res = CaptureSession(src, bm, tmp_path, session_config("013"), lambda k: POSES[k], on_status=on_status,
                         prompt_display=win).run()
    assert res.stop_reason == "done" and [p.name for p in res.items] == ["0000.h5", "0001.h5"]
    assert all(thuman_io.validate_item(p) == [] for p in res.items)
    notice = f"prompt window closed: the capture goes on; prompts continue as images in {tmp_path / 'prompts'}"
    assert res.warnings == [notice]
    assert sum(notice in s.message for s in statuses) == 1  # said once
    assert win.updates == updates_at_close[0] and not win.open
    # The prompt after the close still reached the subject as an image.
    assert sorted(p.name for p in (tmp_path / "prompts").iterdir()) == ["prompt_0000.png", "prompt_0001.png"]
