"""Mesh and parameter files in and out of THuman items (OBJ/PLY/GLB, SMPL/SMPL-X JSON/NPZ/PKL, the
original THuman release, THuman2.0/2.1 and generic folders of textured scans). trimesh and PIL are imported inside the functions that need them."""
from thuman_io.exchange.export import export_body, export_item
from thuman_io.exchange.importer import build_item, import_mesh_item
from thuman_io.exchange.mesh_files import FORMATS, export_mesh, load_mesh
from thuman_io.exchange.release import find_release_poses, import_thuman_release
from thuman_io.exchange.smpl_params import load_smpl_params, read_thuman_release_params
from thuman_io.exchange.thuman2 import import_scan, import_scan_folder, import_thuman2

__all__ = ["FORMATS", "build_item", "export_body", "export_item", "export_mesh", "find_release_poses",
           "import_mesh_item", "import_scan", "import_scan_folder", "import_thuman2", "import_thuman_release",
           "load_mesh", "load_smpl_params", "read_thuman_release_params"]
