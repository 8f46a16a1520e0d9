"""The output folder of a bill cycle run: what may be written there, and whose bills may be replaced.

A run of ``workbench cycle --out OUT`` (see docs/outputs.md):

- refuses ``OUT`` if it is the working directory, the cube, the tariff book, inside either of them, a file, or a
  folder holding anything this command did not write (a user's files, an interval cube...); nothing is changed;
- replaces an earlier output in ``OUT`` only if it was written by a run of the same inputs (:func:`run_identity`:
  the cube, the tariff book, the cycles, the period, the enrollment file, the VEE configuration), or with
  ``--replace``; so a run of cycle 8 never silently replaces the bills of cycle 7;
- writes into a staging folder beside ``OUT`` and renames it into place (:func:`put_in_place`).

The run's two tables are written there by :class:`OutputTables`.

An output written before these rules (no marker file, only the five output files, a ``run.json`` with a
``run_key``) is recognised as this command's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.billing.cube_source import is_url
from workbench.errors import BillingError
from workbench.outputs import MARKER, check_output_dir, mark_output_dir, replace_dir
from workbench.outputs.guard import absolute, marker_kind, refuse_nested, refuse_working_dir

KIND = "bill cycle output"
"""The marker kind of a bill cycle output folder."""

OUTPUT_FILES = frozenset({"bills.parquet", "line_items.parquet", "exceptions.csv", "summary.csv", "run.json"})


def held_exceptions(frame):
    """The rows of a cycle's ``exceptions.csv`` (read as text) that are meters held without a bill: its ``held``
    yes rows (every row of one written before the ``held`` column; ``held`` no rows were billed, to review)."""
    if "held" not in frame:
        return frame
    return frame[frame["held"].fillna("yes").str.strip().str.lower() != "no"].reset_index(drop=True)


def _where(path) -> str | None:
    if path is None:
        return None
    return str(path) if is_url(path) else str(absolute(path))


def run_identity(cube, tariffs_dir, *, cycles, period, enrollments=None, vee_config=None, system_peaks=None,
                 peak_zone=None) -> dict:
    """What makes two runs "the same run" for replacing an output: the inputs by name (not by content).

    A system-peak file (and its zone) is part of the identity only when given, so an output of a run without
    one keeps the identity it was written with.
    """
    identity = {"cube": _where(cube), "tariffs": _where(tariffs_dir),
                "cycles": sorted(int(c) for c in cycles) if cycles is not None else "all",
                "period": period, "enrollments": _where(enrollments), "vee_config": _where(vee_config)}
    if system_peaks is not None:
        identity["system_peaks"] = _where(system_peaks)
        identity["peak_zone"] = peak_zone
    return identity


def refuse_unsafe_out(out, cube, tariffs_dir) -> None:
    """Refuse an output folder that is the working directory, or overlaps the cube or the tariff book."""
    refuse_working_dir(out, KIND)
    refuse_nested(out, cube, "the cube")
    refuse_nested(out, tariffs_dir, "the tariff book")


def _entries(out: Path) -> set[str]:
    try:
        return {p.name for p in out.iterdir()}
    except OSError:
        return set()


def is_legacy_output(out) -> bool:
    """An output of this command written before the marker existed: only its five files, run.json with a run key."""
    out = Path(out)
    if out.is_symlink() or not out.is_dir() or (out / MARKER).exists():
        return False
    entries = _entries(out)
    if not entries or not entries <= OUTPUT_FILES or "run.json" not in entries:
        return False
    try:
        return "run_key" in json.loads((out / "run.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def check_cycle_out(out, identity: dict, *, replace: bool = False) -> None:
    """Refuse ``out`` unless this run may write it (see the module's rules). Changes nothing."""
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if not is_legacy_output(out):
        check_output_dir(out, KIND)
    extra = sorted(_entries(out) - OUTPUT_FILES - {MARKER})
    if extra:
        shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
        raise BillingError(f"--out {out}: the bill cycle output folder also holds files workbench did not write "
                           f"({shown}); move them out or name a new folder (nothing was changed)")
    if replace or "run.json" not in _entries(out):
        return
    try:
        previous = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        raise BillingError(f"--out {out}: holds bills whose run.json cannot be read, so whose run they are is not "
                           "known; name a new folder, or pass --replace to replace them (nothing was changed)") from None
    differ = _differences(previous, identity)
    if differ:
        raise BillingError(f"--out {out}: holds the bills of another run ({'; '.join(differ)}); name a new folder "
                           "for this run, or pass --replace to replace those bills (nothing was changed)")


def _show(value, key: str = "") -> str:
    if value is None:
        return "all" if key == "period" else "none"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _differences(previous: dict, identity: dict) -> list[str]:
    """How the run that wrote ``run.json`` differs from this one, in words ([] when it is the same run)."""
    before = previous.get("inputs")
    if not isinstance(before, dict):  # written before run.json recorded its inputs: what it did record
        before = {"cube": _where(previous.get("cube")), "tariffs": _where(previous.get("tariffs")),
                  "cycles": previous.get("cycles", "all"), "period": previous.get("period")}
        if isinstance(before["cycles"], list):
            before["cycles"] = sorted(before["cycles"])
    names = {"cube": "cube", "tariffs": "tariff book", "cycles": "cycles", "period": "period",
             "enrollments": "enrollments", "vee_config": "VEE configuration", "system_peaks": "system-peak file",
             "peak_zone": "peak zone"}
    # a system-peak file is recorded only when given: given to one run and not the other is a difference too
    keys = [k for k in before if k in identity] + [k for k in _OPTIONAL if k not in before and k in identity]
    keys += [k for k in _OPTIONAL if k in before and k not in identity]
    return [f"{names.get(key, key)} {_show(before.get(key), key)} (this run: {_show(identity.get(key), key)})"
            for key in keys if before.get(key) != identity.get(key)]


_OPTIONAL = ("system_peaks", "peak_zone")


def put_in_place(staged, out) -> None:
    """Rename the staged output into ``out`` (an earlier output of this command is replaced, never anything else).

    The caller holds the lock of ``out`` and checked it with :func:`check_cycle_out`; checked again here, so files
    put into ``out`` by hand during the run are refused, not deleted.
    """
    out = Path(out)
    if out.exists():
        check_cycle_out(out, {}, replace=True)
        if marker_kind(out) is None and is_legacy_output(out):
            mark_output_dir(out, KIND)
    replace_dir(staged, out, KIND)


#: rows gathered before a Parquet row group is written: one row group per chunk (~2,000 bills, ~9,000 line
#: items on the 100,000-meter cube) re-encoded the dictionaries and page statistics of every column a hundred
#: times, half the cost of the writes; a few MB of tables are held at a time
ROW_GROUP_ROWS = 65_536

#: the columns Parquet dictionary-encodes: the strings, dates and small integers, which repeat; the money and
#: energy floats are near-unique, and building a dictionary of them only to drop it cost CPU and bytes
DICTIONARY_COLUMNS = ("meter", "account", "customer_class", "cycle", "rate_code", "period_start", "period_end", "days",
                      "nem_program", "hold_reason", "line", "description", "category", "unit", "tariff_version")


class OutputTables:
    """The run's ``bills.parquet`` and ``line_items.parquet`` in ``folder``, written chunk by chunk in the order
    given (zstd, row groups of about :data:`ROW_GROUP_ROWS` rows)."""

    def __init__(self, folder: Path, schemas: dict):
        self.schemas = schemas
        self.pending = {name: [] for name in schemas}
        self.rows = dict.fromkeys(schemas, 0)
        self.writers = {}
        try:
            for name, schema in schemas.items():
                used = [c for c in DICTIONARY_COLUMNS if c in schema.names]
                self.writers[name] = pq.ParquetWriter(Path(folder) / f"{name}.parquet", schema, compression="zstd",
                                                      use_dictionary=used)
        except BaseException:
            self.close()
            raise

    def write(self, tables: dict) -> None:
        """Append one chunk's tables (by name)."""
        for name, table in tables.items():
            if table.num_rows:
                self.pending[name].append(table.cast(self.schemas[name]))
                self.rows[name] += table.num_rows
                if self.rows[name] >= ROW_GROUP_ROWS:
                    self._flush(name)

    def _flush(self, name: str) -> None:
        if self.pending[name]:
            self.writers[name].write_table(pa.concat_tables(self.pending[name]), row_group_size=1 << 30)
        self.pending[name], self.rows[name] = [], 0

    def finish(self) -> None:
        """Write what is gathered and close the files."""
        for name in self.writers:
            self._flush(name)
        self.close()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}
