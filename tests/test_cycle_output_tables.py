"""How a bill cycle run writes its tables: the output Parquet files (row groups gathered across chunks, dictionaries
only where values repeat), the resume parts (markers not flushed to disk: a damaged one is billed
again), and the cube opened without dask for planning."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench.billing.cycle_output as cycle_output
from workbench.ami.cube import open_cube
from workbench.ami.cube_schema import _as_unicode
from workbench.billing.cycle_chunk import SCHEMAS
from workbench.billing.cycle_output import DICTIONARY_COLUMNS, OutputTables
from workbench.billing.run_store import RunStore, UnreadableChunk, write_chunk
from workbench.sample import generate_sample_utility


def _chunk_tables(k: int, n_bills: int) -> dict:
    """A chunk's tables with distinct values (meter ids and amounts from ``k``), as bill_chunk makes them."""
    bills = {name: pa.nulls(n_bills, field.type) for name, field in zip(SCHEMAS["bills"].names, SCHEMAS["bills"],
                                                                         strict=True)}
    bills["meter"] = pa.array([f"M{k:03d}-{i}" for i in range(n_bills)])
    bills["total"] = pa.array(np.arange(n_bills) * 1.25 + k)
    lines = {name: pa.nulls(2 * n_bills, field.type) for name, field in zip(SCHEMAS["line_items"].names,
                                                                             SCHEMAS["line_items"], strict=True)}
    lines["meter"] = pa.array([f"M{k:03d}-{i // 2}" for i in range(2 * n_bills)])
    lines["description"] = pa.array(["Customer charge", "Energy"] * n_bills)
    lines["amount"] = pa.array(np.arange(2 * n_bills) * 0.01 + k)
    return {"bills": pa.table(bills, schema=SCHEMAS["bills"]), "line_items": pa.table(lines, schema=SCHEMAS["line_items"])}


def test_chunks_are_gathered_into_row_groups_in_order(tmp_path, monkeypatch):
    # a bug this catches: a flush that drops the pending chunks, or writes them out of order
    monkeypatch.setattr(cycle_output, "ROW_GROUP_ROWS", 10)
    chunks = [_chunk_tables(k, n) for k, n in enumerate([4, 4, 0, 5, 3, 7])]
    writers = OutputTables(tmp_path, SCHEMAS)
    for tables in chunks:
        writers.write(tables)
    writers.finish()
    for name in ("bills", "line_items"):
        got = pq.read_table(tmp_path / f"{name}.parquet")
        assert got.schema.equals(SCHEMAS[name])
        assert got.equals(pa.concat_tables([c[name] for c in chunks]))
    # bills: 4+4+0+5 = 13 rows reach 10 (one group), then 3+7 = 10 (another); nothing left over
    assert [pq.ParquetFile(tmp_path / "bills.parquet").metadata.row_group(i).num_rows for i in range(2)] == [13, 10]
    assert pq.ParquetFile(tmp_path / "bills.parquet").num_row_groups == 2
    # line items, twice the rows: 8+8 = 16, 0+10 = 10, 6+14 = 20
    meta = pq.ParquetFile(tmp_path / "line_items.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [16, 10, 20]


def test_only_repeating_columns_are_dictionary_encoded(tmp_path):
    writers = OutputTables(tmp_path, SCHEMAS)
    writers.write(_chunk_tables(0, 50))
    writers.finish()
    group = pq.ParquetFile(tmp_path / "line_items.parquet").metadata.row_group(0)
    encoded = {group.column(i).path_in_schema: group.column(i).has_dictionary_page for i in range(group.num_columns)}
    assert encoded["meter"] and encoded["description"]
    assert not encoded["amount"] and not encoded["quantity"]
    assert set(DICTIONARY_COLUMNS) <= set(SCHEMAS["bills"].names) | set(SCHEMAS["line_items"].names)


def test_a_run_without_rows_writes_empty_tables_with_their_schema(tmp_path):
    writers = OutputTables(tmp_path, SCHEMAS)
    writers.write({name: schema.empty_table() for name, schema in SCHEMAS.items()})
    writers.finish()
    for name in SCHEMAS:
        got = pq.read_table(tmp_path / f"{name}.parquet")
        assert got.num_rows == 0 and got.schema.equals(SCHEMAS[name])


def _store(tmp_path) -> RunStore:
    store = RunStore(tmp_path / "out", "k" * 16)
    store.create({"format": 2})
    return store


def test_parts_are_read_back_as_written(tmp_path):
    store = _store(tmp_path)
    tables = _chunk_tables(1, 6)
    marker = {"groups": [{"bills": 6}], "held": []}
    write_chunk(store.parts, 0, tables, marker)
    assert store.done_chunks() == {0}
    got_marker, got = store.read_chunk(0)
    assert got_marker == marker
    assert all(got[name].equals(tables[name]) for name in tables)
    store.release()


def test_a_marker_emptied_by_a_power_cut_is_unreadable_so_billed_again(tmp_path):
    # the marker is not flushed to disk: after a power cut it may be there but empty; the run must not trust it
    store = _store(tmp_path)
    write_chunk(store.parts, 3, _chunk_tables(3, 2), {"groups": [], "held": []})
    store.marker(3).write_bytes(b"")
    with pytest.raises(UnreadableChunk, match="000003.json"):
        store.check_chunk(3)
    store.release()


@pytest.fixture(scope="module")
def small_cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=20, year=2025, seed=3, meter_chunk=10, progress=False, months=(11, 11))
    return path


def test_a_cube_opened_without_dask_has_the_same_coordinates_in_memory(small_cube):
    with_dask, without = open_cube(small_cube), open_cube(small_cube, chunks=None)
    assert with_dask["delivered_kwh"].chunks is not None
    assert without["delivered_kwh"].chunks is None  # read from Zarr when indexed, never a dask graph
    for name in ("meter", "account", "customer_class", "rate_code", "nem_program", "cycle", "read_date"):
        a, b = with_dask[name], without[name]
        assert b.variable._in_memory, name  # loaded once, as with dask: never read from Zarr per use
        if a.dtype.kind == "U":  # strings as stored (StringDType), the same strings once made numpy unicode
            assert _as_unicode(b.values).dtype == a.dtype, name
        else:
            assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a.values, _as_unicode(b.values) if a.dtype.kind == "U" else b.values,
                                      err_msg=name)  # NaT (no read date) equal to NaT
    assert without["delivered_kwh"].encoding["chunks"] == with_dask["delivered_kwh"].encoding["chunks"]
    np.testing.assert_array_equal(without["delivered_kwh"].values, with_dask["delivered_kwh"].values)


@pytest.mark.slow  # a whole run in a fresh interpreter: ~7 s
def test_a_run_imports_neither_dask_array_nor_distributed(small_cube, tmp_path):
    # dask looks for a distributed client at every compute (0.35 s to import distributed), and xarray imports
    # dask.array (0.4 s) at the first variable made from a numpy array: a run in this process needs neither
    import subprocess

    code = ("import sys; from workbench.billing.cycle import run_cycle; "
            f"run_cycle({str(small_cube)!r}, 'tariffs', {str(tmp_path / 'out')!r}, period='2025-11', progress=False); "
            "print(sorted(m for m in ('dask.array', 'distributed') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "out" / "bills.parquet").exists()
