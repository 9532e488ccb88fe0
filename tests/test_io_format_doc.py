"""docs/format.md and thuman_io.item_schema agree field by field."""
from pathlib import Path

from thuman_io.item_schema import ATTRIBUTES, FIELDS

DOC = Path(__file__).resolve().parents[1] / "docs" / "format.md"


def _table_rows(first_cell_prefix):
    rows = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith("`") and cells[0].strip("`").startswith(first_cell_prefix):
            rows.append(cells)
    return rows


def _shape(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def test_field_table_matches_schema():
    rows = {r[0].strip("`"): r for r in _table_rows(("mesh/", "smpl/", "meta/", "frame/")) if len(r) == 6}
    assert set(rows) == {f.path for f in FIELDS}
    for f in FIELDS:
        path, dtype, shape, units, required, doc = rows[f.path]
        assert dtype == f.dtype, f.path
        assert shape == _shape(f.shape), f.path
        assert units == f.units, f.path
        assert required == ("yes" if f.required else "no"), f.path
        assert doc == f.doc, f.path


def test_attribute_tables_match_schema():
    group_rows = {r[0].strip("`"): r for r in _table_rows(("smpl/", "meta/", "frame/")) if len(r) == 4}
    root_rows = {r[0].strip("`"): r for r in _table_rows(("schema", "toolkit")) if len(r) == 3}
    for group, name, kind, required, doc in ATTRIBUTES:
        if group == "/":
            assert root_rows[name][1] == kind, name
        else:
            row = group_rows[f"{group}/{name}"]
            assert row[1:] == [kind, "yes" if required else "no", doc], (group, name)
    assert len(group_rows) == sum(1 for a in ATTRIBUTES if a[0] != "/")
    assert len(root_rows) == sum(1 for a in ATTRIBUTES if a[0] == "/")
