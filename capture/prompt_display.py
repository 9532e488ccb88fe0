"""Where stage 2's pose prompts go: nowhere, PNG images, or a window (Tk) beside the live view.

The session talks to one :class:`PromptDisplay`:

- ``show(reference_vertices, faces, k, total, t, interval_s, pose_index, live)`` when prompt k
  (0-based, of ``total``) is shown at stream time ``t``;
- ``update(live, status)`` after every frame; it returns a one-line notice (or None) that the
  session adds to the status message and the result's warnings;
- ``close()`` at the end (the session calls it in a ``finally``).

``live`` is a zero-argument callable returning the live reconstruction as ``(vertices (V, 3),
faces (F, 3))`` in metres (capture frame), or None while nothing is fused. It is a callable
because warping the fused mesh and ray casting it cost tens of milliseconds: a display calls it
only when it re-renders (the window at most every ``refresh_s`` of stream time and of wall time).

:class:`PromptWindow` keeps Tk on the thread that made it (the capture loop's): it never runs
``mainloop`` but pumps events with ``root.update()`` in every ``update``; Tk is not thread-safe.
If the user closes the window the capture goes on, and prompts continue as images when a prompt
folder was given.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from thuman.capture.prompt import prompt_image, shaded_view, write_prompt_image
from thuman_io.errors import DeviceError

LiveMesh = Optional[Callable[[], Optional[tuple]]]

#: The modes of ``thuman capture --prompt``.
PROMPT_MODES = ("auto", "window", "images", "none")


class PromptDisplay:
    """No prompts at all (``--prompt none``); the base of the other displays."""

    description = "none"

    def show(self, reference_vertices: np.ndarray, faces: np.ndarray, k: int, total: int, t: float,
             interval_s: float, pose_index: int, live: LiveMesh = None) -> None:
        """Prompt k of ``total`` (0-based) at stream time ``t`` (s): the reference pose as a mesh
        (vertices (V, 3) metres, faces (F, 3)), held for ``interval_s``; item ``pose_index``."""

    def update(self, live: LiveMesh, status) -> Optional[str]:
        """Called after every frame with the session's :class:`SessionStatus`; returns a notice."""
        return None

    def close(self) -> None:
        """Release what the display holds (idempotent)."""


class ImagePrompts(PromptDisplay):
    """One PNG per prompt, ``prompt_dir/prompt_<pose_index:04d>.png`` (written atomically): the
    reference pose (left) beside the live reconstruction at the moment of the prompt (right)."""

    def __init__(self, prompt_dir: str | os.PathLike):
        self.prompt_dir = Path(prompt_dir)
        self.description = f"images in {self.prompt_dir}"
        self.written: list[Path] = []

    def show(self, reference_vertices, faces, k, total, t, interval_s, pose_index, live=None) -> None:
        current = live() if live is not None else None
        img = prompt_image((reference_vertices, faces), current)
        path = self.prompt_dir / f"prompt_{pose_index:04d}.png"
        write_prompt_image(path, img)
        self.written.append(path)


def display_problem() -> Optional[str]:
    """Why no window can open here (None when Tk connects to a display). Cheap when no display
    variable is set; otherwise it opens and closes a Tk connection."""
    display = os.environ.get("DISPLAY", "")
    if not display:
        if os.environ.get("WAYLAND_DISPLAY"):
            # Tk draws through X11 only; a Wayland session offers it through XWayland's $DISPLAY.
            return "no display: $WAYLAND_DISPLAY is set but $DISPLAY is not (Tk needs X11 or XWayland)"
        return "no display: $DISPLAY is not set"
    try:
        import tkinter
    except ImportError as e:  # a Python built without Tk
        return f"no window toolkit: tkinter cannot be imported ({e})"
    try:
        root = tkinter.Tk()
    except tkinter.TclError as e:
        return f"no display: Tk cannot connect to $DISPLAY={display} ({e})"
    root.destroy()
    return None


class PromptWindow(PromptDisplay):
    """A Tk window: a text line (pose k of N, seconds left, stage, coverage in stage 1) above the
    reference pose (left) and the live reconstruction (right, refreshed while tracking).

    panel: (height, width) pixels of each half. refresh_s: least stream time between live
    renders; min_wall_s: least wall time between them (a live render is a CPU ray cast).
    images: also write each prompt as a PNG (the record of what was prompted; the fallback after
    the user closes the window). Raises :class:`DeviceError` when Tk cannot open a window.
    Counters ``renders`` (live panel renders) and ``updates`` (update calls that reached Tk).
    """

    def __init__(self, images: Optional[ImagePrompts] = None, panel=(384, 288), refresh_s: float = 0.5,
                 min_wall_s: float = 0.5, title: str = "thuman capture: pose prompt"):
        import tkinter

        self._tk = tkinter
        self.images = images
        self.panel = tuple(panel)
        self.refresh_s, self.min_wall_s = refresh_s, min_wall_s
        self.description = "window" + (f" (images also in {images.prompt_dir})" if images else "")
        try:
            self.root = tkinter.Tk()
        except tkinter.TclError as e:
            raise DeviceError(f"no display: Tk cannot open a window on $DISPLAY="
                              f"{os.environ.get('DISPLAY', '')} ({e}); use --prompt images") from None
        self.root.title(title)
        self.root.configure(bg="#202020")
        self.root.protocol("WM_DELETE_WINDOW", self._user_closed)
        fg, bg = "#f0f0f0", "#202020"
        self.headline = tkinter.Label(self.root, text="", font=("DejaVu Sans", 20, "bold"), fg=fg, bg=bg)
        self.detail = tkinter.Label(self.root, text="", font=("DejaVu Sans", 13), fg="#c8c8c8", bg=bg)
        self.headline.pack(side="top", pady=(8, 0))
        self.detail.pack(side="top", pady=(0, 6))
        captions = tkinter.Frame(self.root, bg=bg)
        captions.pack(side="top", fill="x")
        for text in ("reference pose: do this", "you (live reconstruction)"):
            tkinter.Label(captions, text=text, font=("DejaVu Sans", 12), fg=fg, bg=bg,
                          width=1).pack(side="left", expand=True, fill="x")
        self.picture = tkinter.Label(self.root, bd=0, bg=bg)
        self.picture.pack(side="top", padx=0, pady=(2, 8))
        h, w = self.panel
        self._left = np.full((h, w, 3), 40, np.uint8)
        self._right = np.full((h, w, 3), 40, np.uint8)
        self._photo = None
        self._prompt: Optional[tuple] = None  # (k, total, t shown, interval_s)
        self._last_render: Optional[tuple] = None  # (stream time, wall time)
        self.open, self.closed_by_user, self._noticed = True, False, False
        self.renders = self.updates = 0
        self.headline.configure(text="Turn slowly in front of the camera")
        self._tk_do(self._set_picture)

    # -- what the session calls -------------------------------------------------------------------
    def show(self, reference_vertices, faces, k, total, t, interval_s, pose_index, live=None) -> None:
        if self.images is not None:
            self.images.show(reference_vertices, faces, k, total, t, interval_s, pose_index, live)
        self._prompt = (k, total, t, interval_s)
        if not self.open:
            return
        self._left = shaded_view(reference_vertices, faces, self.panel)
        self._render_live(live, t)
        self._tk_do(self._set_picture)

    def update(self, live: LiveMesh, status) -> Optional[str]:
        if self.open:
            due = self._last_render is None or (
                status.time_s - self._last_render[0] >= self.refresh_s
                and time.perf_counter() - self._last_render[1] >= self.min_wall_s)
            changed = due and live is not None and self._render_live(live, status.time_s)

            def draw():
                if changed:
                    self._set_picture()
                self._set_text(status)

            if self._tk_do(draw):
                self.updates += 1
        if not self.open and not self._noticed:
            self._noticed = True
            after = (f"prompts continue as images in {self.images.prompt_dir}" if self.images is not None
                     else "no further prompts are shown")
            return f"prompt window closed: the capture goes on; {after}"
        return None

    def close(self) -> None:
        self._noticed = True  # closed by the session: nothing to tell the user
        if self.open:
            self.open = False
            try:
                self.root.destroy()
            except self._tk.TclError:
                pass

    # -- for tests and screenshots ------------------------------------------------------------------
    @property
    def image(self) -> np.ndarray:
        """(h, 2w + 4, 3) uint8: the composed picture the window shows now (reference, a 4-pixel
        divider, live)."""
        divider = np.full((self._left.shape[0], 4, 3), 110, np.uint8)
        return np.concatenate([self._left, divider, self._right], axis=1)

    def picture_origin(self) -> tuple:
        """(x, y) screen pixels of the picture's top-left corner."""
        return self.picture.winfo_rootx(), self.picture.winfo_rooty()

    def window_box(self) -> tuple:
        """(x, y, width, height) of the window on the screen."""
        r = self.root
        return r.winfo_rootx(), r.winfo_rooty(), r.winfo_width(), r.winfo_height()

    # -- inside ---------------------------------------------------------------------------------------
    def _render_live(self, live: LiveMesh, t: float) -> bool:
        """Re-render the live panel; False when there is nothing to show yet."""
        mesh = live() if live is not None else None
        self._last_render = (t, time.perf_counter())
        if mesh is None or len(mesh[1]) == 0:
            return False
        self._right = shaded_view(mesh[0], mesh[1], self.panel)
        self.renders += 1
        return True

    def _set_text(self, status) -> None:
        rate = f"{status.fps:.1f} fps"
        if status.stage == "turn" or self._prompt is None:
            self.headline.configure(text="Turn slowly in front of the camera")
            self.detail.configure(text=f"stage 1 (turn): coverage {100 * status.coverage:.0f} % · "
                                       f"t {status.time_s:.1f} s · {rate}")
            return
        k, total, shown, interval_s = self._prompt
        left = max(0.0, shown + interval_s - status.time_s)
        self.headline.configure(text=f"Pose {k + 1} of {total}: hold it, {left:.1f} s left")
        self.detail.configure(text=f"stage 2 (imitate): {status.items_saved} of {total} saved · "
                                   f"t {status.time_s:.1f} s · {rate}")

    def _set_picture(self) -> None:
        from PIL import Image, ImageTk

        # Keep a reference: Tk shows nothing once the PhotoImage is garbage-collected.
        self._photo = ImageTk.PhotoImage(Image.fromarray(self.image), master=self.root)
        self.picture.configure(image=self._photo)

    def _tk_do(self, change: Callable[[], None]) -> bool:
        """Apply ``change`` to the widgets, then handle pending window events (redraws, the close
        button) without blocking. False when the window is gone (closed by the user, destroyed
        from outside): the display then stops drawing."""
        if not self.open:
            return False
        try:
            change()
            self.root.update()
        except self._tk.TclError:
            self._lost()
        return self.open

    def _user_closed(self) -> None:
        self.closed_by_user = True
        self._lost()
        self.root.destroy()

    def _lost(self) -> None:
        self.open = False
        self._photo = None


def open_prompt_display(mode: str, prompt_dir: str | os.PathLike | None) -> PromptDisplay:
    """The display for ``thuman capture --prompt MODE``.

    'auto': a window (plus images in ``prompt_dir``) when a display exists ($DISPLAY set and Tk
    connects), else images (nothing without ``prompt_dir``). 'window': the window, images too when
    ``prompt_dir`` is given; :class:`DeviceError` without a display. 'images': PNGs in
    ``prompt_dir`` (required). 'none': no prompts (a simulated subject still gets them through
    ``source.show_prompt``).
    """
    if mode not in PROMPT_MODES:
        raise ValueError(f"prompt mode {mode!r}: expected one of {', '.join(PROMPT_MODES)}")
    images = ImagePrompts(prompt_dir) if prompt_dir is not None else None
    if mode == "none":
        return PromptDisplay()
    if mode == "images":
        if images is None:
            raise ValueError("prompt mode 'images' needs a prompt folder")
        return images
    problem = display_problem()
    if problem is None:
        return PromptWindow(images=images)
    if mode == "window":
        raise DeviceError(f"{problem}; use --prompt images")
    display = images if images is not None else PromptDisplay()
    display.description += f" ({problem})"
    return display
