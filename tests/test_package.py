"""The package layout: namespaced imports, a light thuman_io, a fast CLI."""
import subprocess
import sys


def test_thuman_io_imports_without_heavy_packages():
    code = ("import sys, thuman_io, thuman_io.body; "
            "heavy = [m for m in ('torch', 'open3d', 'pyrender', 'pymeshlab', 'smplx', 'trimesh') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_namespaced_packages_import():
    import thuman
    import thuman.capture
    import thuman.cli
    import thuman.model
    import thuman.synth
    assert thuman.__version__


def test_cli_help_lists_commands():
    r = subprocess.run([sys.executable, "-m", "thuman.cli.main", "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Commands" in r.stdout
