"""The demo's report: one self-contained HTML file (images inlined as base64 PNG, no scripts, no
external assets), so that it opens from disk, travels as one attachment and renders the same in
any browser.

:class:`ReportData` holds what the report shows; :func:`build_html` turns it into text (pure);
:func:`write_report` writes it atomically. Collecting the data from a run folder is the demo's job
(:mod:`thuman.demo`), so this module knows nothing of the folder layout.
"""
from __future__ import annotations

import base64
import html
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from thuman_io.atomic import atomic_write_text

#: An image: (H, W, 3) uint8, (H, W, 3) float in [0, 1], PNG bytes, or a PNG file.
Image = Union[np.ndarray, bytes, str, os.PathLike]

#: Rows of the evaluation table: (metric key in the eval report, label, better: 'higher'|'lower', format).
EVAL_ROWS = (
    ("iou", "3D IoU (z-shift search)", "higher", "{:.3f}"),
    ("iou_no_shift", "3D IoU (no shift)", "higher", "{:.3f}"),
    ("normal_without_refinement/cosine_distance", "normal cosine distance, without refinement", "lower", "{:.4f}"),
    ("normal_without_refinement/l2", "normal L2 error, without refinement", "lower", "{:.4f}"),
    ("normal_with_refinement/cosine_distance", "normal cosine distance, with refinement", "lower", "{:.4f}"),
    ("normal_with_refinement/l2", "normal L2 error, with refinement", "lower", "{:.4f}"),
    ("chamfer_cm", "Chamfer distance (cm)", "lower", "{:.2f}"),
    ("p2s_cm", "point-to-surface distance (cm)", "lower", "{:.2f}"),
)


@dataclass
class Figure:
    """An image with a caption. image: see :data:`Image`; None shows the caption alone.
    scale: shown at this many times its pixel size (small grid images are 96 x 64)."""

    image: Optional[Image]
    caption: str = ""
    scale: int = 1


@dataclass
class StageLine:
    """One row of the stage table: name, 'done' | 'skipped' (done earlier) | 'failed', seconds."""

    name: str
    status: str
    seconds: float
    summary: str = ""


@dataclass
class Evaluation:
    """Mean metrics of several methods on the same held-out samples.

    methods: method name -> {metric key (of :data:`EVAL_ROWS`) -> value}, in column order; the
    first is the reference the verdict compares the network with (the oracle body). split: e.g.
    'test'; num_samples; subjects: held-out subject ids; step: the checkpoint's training step."""

    methods: dict
    split: str = "test"
    num_samples: int = 0
    subjects: list = field(default_factory=list)
    step: Optional[int] = None


@dataclass
class ReportData:
    """Everything the report shows. Empty sections say so instead of disappearing."""

    title: str
    settings: dict
    stages: list = field(default_factory=list)            # StageLine
    notices: list = field(default_factory=list)           # str: shown in a box at the top
    capture_note: str = ""
    items: list = field(default_factory=list)             # Figure per captured item
    corpus_note: str = ""
    corpus_previews: list = field(default_factory=list)   # Figure per item preview grid
    curves: Optional[Figure] = None
    evaluation: Optional[Evaluation] = None
    eval_sheet: Optional[Figure] = None
    reconstruction: list = field(default_factory=list)    # Figure: input, mesh views, ...
    reconstruction_note: str = ""
    footer: str = ""


# --- images ---------------------------------------------------------------------------------
def png_bytes(image: Image) -> bytes:
    """PNG bytes of an array ((H, W[, 3|4]) uint8 or float in [0, 1]), of PNG bytes or of a PNG file."""
    if isinstance(image, bytes):
        return image
    if isinstance(image, (str, os.PathLike)):
        return Path(image).read_bytes()
    from PIL import Image as PILImage

    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a.astype(np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(image: Image) -> str:
    """The image as a ``data:`` URI (inline PNG): what keeps the report one file."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


# --- HTML -----------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1120px; color: #222; line-height: 1.4; padding: 0 16px; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 32px; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; background: #eef8ee; }
.notice { border: 2px solid #d08a00; background: #fff6e0; padding: 8px 12px; margin: 12px 0; border-radius: 4px; }
.note { color: #444; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; border: 1px solid #ddd; padding: 6px; background: #fafafa; }
figure img { display: block; image-rendering: pixelated; max-width: 100%; }
figcaption { font-size: 13px; color: #333; margin-top: 4px; max-width: 530px; }
.empty { color: #a00; font-style: italic; }
"""


def _figure(fig: Figure, width: Optional[int] = None) -> str:
    cap = f"<figcaption>{html.escape(fig.caption)}</figcaption>" if fig.caption else ""
    if fig.image is None:
        return f"<figure><div class='empty'>no image</div>{cap}</figure>"
    data = png_bytes(fig.image)
    if width is None and fig.scale != 1:
        from PIL import Image as PILImage

        width = PILImage.open(io.BytesIO(data)).size[0] * fig.scale
    style = f" style='width:{int(width)}px'" if width else ""
    uri = data_uri(data)
    return f"<figure><img alt='{html.escape(fig.caption)}' src='{uri}'{style}>{cap}</figure>"


def _gallery(figs: list, empty: str, width: Optional[int] = None) -> str:
    if not figs:
        return f"<p class='empty'>{html.escape(empty)}</p>"
    return "<div class='gallery'>" + "".join(_figure(f, width) for f in figs) + "</div>"


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return fmt.format(value)


def _winner(values: dict, better: str):
    """The method with the best finite value (None on a tie or with fewer than two values)."""
    finite = {k: v for k, v in values.items() if isinstance(v, (int, float)) and not math.isnan(v)}
    if len(finite) < 2:
        return None
    ranked = sorted(finite.items(), key=lambda kv: kv[1], reverse=better == "higher")
    return None if ranked[0][1] == ranked[1][1] else ranked[0][0]


def verdict(ev: Evaluation) -> list[str]:
    """One sentence per metric saying in words which method wins it, and by how much over the
    runner-up."""
    lines = []
    for key, label, better, fmt in EVAL_ROWS:
        values = {name: m.get(key) for name, m in ev.methods.items()}
        best = _winner(values, better)
        if best is None:
            continue
        others = sorted(((n, v) for n, v in values.items() if n != best and isinstance(v, (int, float))
                         and not math.isnan(v)), key=lambda kv: kv[1], reverse=better == "higher")
        second, value = others[0]
        lines.append(f"{label}: {best} wins with {fmt.format(values[best])} ({better} is better), "
                     f"ahead of {second} ({fmt.format(value)}).")
    return lines


def evaluation_table(ev: Evaluation) -> str:
    """The metrics table: one row per metric, one column per method; the best value bold; then
    the verdict in words."""
    names = list(ev.methods)
    rows = []
    for key, label, better, fmt in EVAL_ROWS:
        values = {n: ev.methods[n].get(key) for n in names}
        if all(v is None for v in values.values()):
            continue
        best = _winner(values, better)
        cells = [f"<td class='num{' best' if n == best else ''}'>{_fmt(values[n], fmt)}</td>" for n in names]
        rows.append(f"<tr><td>{html.escape(label)}</td>{''.join(cells)}<td>{better} is better</td></tr>")
    step = "" if ev.step is None else f" (checkpoint at step {ev.step})"
    head = (f"<p class='note'>{ev.num_samples} held-out samples (split '{html.escape(ev.split)}', subjects "
            f"{html.escape(', '.join(map(str, ev.subjects)) or '?')}); network{step}. The oracle body is the "
            "corpus's own body (the simulator's ground truth) voxelised as the shape, no clothing and no network; "
            "the perturbed body is that body with a fitting error the size of published estimators' (SPIN on "
            "3DPW), as a body fitted to a real image would be. A dash: the metric does not apply "
            "(the bodies have no refiner).</p>")
    header = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    words = "".join(f"<li>{html.escape(line)}</li>" for line in verdict(ev))
    return (head + f"<table><tr><th>metric</th>{header}<th></th></tr>" + "".join(rows) + "</table>"
            + (f"<p class='note'>Which method wins:</p><ul>{words}</ul>" if words else ""))


def build_html(data: ReportData) -> str:
    """The whole report as one HTML string (pure: no file access except reading image files)."""
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(data.title)}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{esc(data.title)}</h1>"]
    settings = ", ".join(f"{esc(str(k))} {esc(str(v))}" for k, v in data.settings.items())
    parts.append(f"<p class='sub'>{settings}</p>")
    for n in data.notices:
        parts.append(f"<div class='notice'>{esc(n)}</div>")
    if data.stages:
        total = sum(s.seconds for s in data.stages)
        rows = "".join(f"<tr><td>{esc(s.name)}</td><td>{esc(s.status)}</td><td class='num'>{s.seconds:.1f}</td>"
                       f"<td>{esc(s.summary)}</td></tr>" for s in data.stages)
        parts.append("<h2>Stages</h2><table><tr><th>stage</th><th>status</th><th>seconds</th><th>result</th></tr>"
                     f"{rows}<tr><th>total</th><th></th><th class='num'>{total:.1f}</th><th></th></tr></table>")
    parts.append("<h2>1. Captured items</h2>")
    if data.capture_note:
        parts.append(f"<p class='note'>{esc(data.capture_note)}</p>")
    parts.append(_gallery(data.items, "no captured items", width=530))
    parts.append("<h2>2. Synthesized corpus</h2>")
    if data.corpus_note:
        parts.append(f"<p class='note'>{esc(data.corpus_note)}</p>")
    parts.append(_gallery(data.corpus_previews, "no corpus preview"))
    parts.append("<h2>3. Training</h2>")
    parts.append(_gallery([data.curves] if data.curves else [], "no training curves"))
    parts.append("<h2>4. Evaluation on held-out subjects</h2>")
    if data.evaluation is not None:
        parts.append(evaluation_table(data.evaluation))
    else:
        parts.append("<p class='empty'>no evaluation</p>")
    if data.eval_sheet is not None:
        parts.append(_gallery([data.eval_sheet], ""))
    parts.append("<h2>5. Reconstruction from one held-out image</h2>")
    if data.reconstruction_note:
        parts.append(f"<p class='note'>{esc(data.reconstruction_note)}</p>")
    parts.append(_gallery(data.reconstruction, "no reconstruction"))
    if data.footer:
        parts.append(f"<p class='sub' style='margin-top:32px'>{esc(data.footer)}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(path: str | os.PathLike, data: ReportData) -> Path:
    """Write :func:`build_html` of ``data`` to ``path`` atomically."""
    atomic_write_text(path, build_html(data))
    return Path(path)
