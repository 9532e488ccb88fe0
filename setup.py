"""Package mapping: the top-level folders are installed under the ``thuman`` namespace.

``capture/`` -> ``thuman.capture``, ``synth/`` -> ``thuman.synth``, ``model/`` -> ``thuman.model``,
``cli/`` -> ``thuman.cli``; ``thuman_io/`` stays a top-level package so that users can
``import thuman_io`` with numpy and h5py alone.  See docs/architecture.md.
"""
import os

from setuptools import setup

ROOTS = {
    "thuman": "thuman",
    "thuman.capture": "capture",
    "thuman.synth": "synth",
    "thuman.model": "model",
    "thuman.cli": "cli",
    "thuman_io": "thuman_io",
}


def _walk(name: str, folder: str):
    """Yield (package name, folder) for a folder and every sub-folder holding an __init__.py."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        if "__init__.py" not in filenames:
            continue
        rel = os.path.relpath(dirpath, folder)
        pkg = name if rel == "." else name + "." + rel.replace(os.sep, ".")
        yield pkg, dirpath


packages, package_dir = [], {}
for root_name, root_folder in ROOTS.items():
    for pkg, path in _walk(root_name, root_folder):
        packages.append(pkg)
        package_dir[pkg] = path

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"thuman_io": ["body/data/*", "body/poses/*", "py.typed"], "thuman": ["py.typed"],
                  "thuman.synth": ["data/*"], "thuman.capture.sim": ["data/*"]},
    include_package_data=True,
)
