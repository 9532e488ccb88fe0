"""Make docs/demo_report.png, the README's picture, from a finished demo run: two captured items
(frame, textured mesh, geometry front and side) above the reconstruction of a held-out image
(input, reconstructed mesh front and side, ground truth front and side), as in the report.

    python scripts/demo_figure.py demo_out [docs/demo_report.png]
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def main(run: str, out: str = "docs/demo_report.png") -> None:
    import thuman_io
    from thuman.figures import hstack, item_picture

    refs = sorted(thuman_io.open_dataset(Path(run) / "dataset").items(), key=lambda r: (r.subject, r.pose_index))
    first = [r for r in refs if r.pose_index == 0][:2]
    items = hstack([item_picture(r.load(frame=True)) for r in first], gap=16)
    recon = np.asarray(Image.open(Path(run) / "reconstruct" / "views.png").convert("RGB"), np.float32) / 255.0
    width = max(items.shape[1], recon.shape[1])

    def pad(a):
        return np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), constant_values=1.0)
    sheet = np.concatenate([pad(items), np.ones((16, width, 3), np.float32), pad(recon)], axis=0)
    Image.fromarray((np.clip(sheet, 0, 1) * 255 + 0.5).astype(np.uint8)).save(out, optimize=True)
    print(out, sheet.shape)


if __name__ == "__main__":
    main(*sys.argv[1:])
