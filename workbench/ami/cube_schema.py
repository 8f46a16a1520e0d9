"""The interval cube's layout and its check (see ``docs/cube.md``).

Holds what a cube must look like: the quality codes (``QUALITY_*``), the interval variables and per-meter
coordinates with their dtypes, the customer classes, and :func:`validate_cube`, which checks a dataset against
``docs/cube.md`` (names, dims, dtypes, the time axis, bill cycles, attributes, one meter chunking) and raises
:class:`~workbench.errors.CubeError` naming the variable or coordinate that is wrong. Nothing here reads or
writes disk.
"""

from __future__ import annotations

import sys
import zoneinfo
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import CubeError

if TYPE_CHECKING:
    import xarray as xr

QUALITY_ACTUAL = 0
QUALITY_ESTIMATED = 1
QUALITY_MISSING = 2

#: CF attributes of ``quality``: ``flag_values`` as numbers (a cube written before 0.2 holds the string
#: ``"0 1 2"``; :func:`cf_flag_values` reads both)
QUALITY_ATTRS = {"flag_values": [QUALITY_ACTUAL, QUALITY_ESTIMATED, QUALITY_MISSING],
                 "flag_meanings": "actual estimated missing"}


def cf_flag_values(attrs, key: str = "flag_values") -> list[int]:
    """A variable's CF ``flag_values`` (or ``flag_masks``) as integers: a list or array of numbers, or the
    blank-separated string older cubes carry; ``[]`` when absent."""
    value = attrs.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [int(v) for v in value.split()]
    return [int(v) for v in np.atleast_1d(value)]

#: data variables on (meter, time), with their dtypes
INTERVAL_VARS = {
    "delivered_kwh": np.dtype("float32"),
    "received_kwh": np.dtype("float32"),
    "quality": np.dtype("uint8"),
}

#: the optional reactive channel (workbench.ami.cube_reactive): lagging kVARh on (meter, time), NaN = no read, and
#: the per-meter flag that says which meters record it; a cube has both or neither
REACTIVE_VAR = "reactive_kvarh"
HAS_REACTIVE = "has_reactive"
OPTIONAL_INTERVAL_VARS = {REACTIVE_VAR: np.dtype("float32")}

#: coordinates on (meter,) and the dtype kind they must have ("str" for strings)
METER_COORDS = {
    "account": "str",
    "customer_class": "str",
    "rate_code": "str",
    "multiplier": "float",
    "cycle": "int",
    "nem_program": "str",
}

CUSTOMER_CLASSES = ("RES", "SGS", "LGS")

_STR_KINDS = ("U", "O", "T", "S")

_DOC = "see docs/cube.md"


def _is_str_dtype(dtype: np.dtype) -> bool:
    return getattr(dtype, "kind", None) in _STR_KINDS


def _as_unicode(values) -> np.ndarray:
    """Strings of any numpy flavour (object, StringDType, bytes, unicode) as fixed-width numpy unicode."""
    arr = np.asarray(values)
    if arr.dtype.kind == "U":
        return arr
    if arr.dtype.kind == "T":  # StringDType (how zarr 3 reads strings): numpy converts it itself, no str() per value
        width = int(np.strings.str_len(arr).max()) if arr.size else 1
        return arr.astype(f"<U{max(width, 1)}")
    as_obj = arr.astype(object)
    width = max((len(str(v)) for v in as_obj.ravel()), default=1)
    return np.array([str(v) for v in as_obj.ravel()], dtype=f"<U{max(width, 1)}").reshape(arr.shape)


def _kind_ok(dtype: np.dtype, kind: str) -> bool:
    if kind == "str":
        return _is_str_dtype(dtype)
    if kind == "float":
        return np.issubdtype(dtype, np.floating)
    if kind == "int":
        return np.issubdtype(dtype, np.integer)
    raise AssertionError(kind)


def _time_chunks_ok(var: xr.Variable, n_time: int) -> bool:
    """True if ``var`` is in one chunk along time (in dask, and in its on-disk encoding)."""
    axis = var.dims.index("time")
    chunks = var.chunks
    if chunks is not None and len(chunks[axis]) != 1:
        return False
    enc = var.encoding.get("chunks")
    if enc is not None and len(enc) == var.ndim and int(enc[axis]) < n_time:
        return False
    return True


def _is_dataset(ds) -> bool:
    """An ``xarray.Dataset`` (xarray not imported: none can exist), or the plan's
    :class:`~workbench.ami.cube_arrays.CubeArrays` view of a cube, which answers the same questions."""
    xr = sys.modules.get("xarray")
    return getattr(ds, "is_cube_arrays", False) is True or (xr is not None and isinstance(ds, xr.Dataset))


def validate_cube(ds: xr.Dataset, *, check_chunks: bool = True, deep: bool = False) -> xr.Dataset:
    """Check ``ds`` against ``docs/cube.md``; raise :class:`CubeError` naming what is wrong.

    Cheap checks only by default (names, dims, dtypes, the time axis, coordinates, attributes and chunking);
    ``deep=True`` also reads the data to check quality codes and non-negative energy. Returns ``ds``.
    """
    if not _is_dataset(ds):
        raise CubeError(f"interval cube: expected an xarray.Dataset, got {type(ds).__name__}")

    # --- the time axis ---
    if "time" not in ds.coords:
        raise CubeError(f"interval cube: coordinate 'time' is missing (UTC interval start times; {_DOC})")
    time = ds["time"]
    if time.dims != ("time",):
        raise CubeError(f"interval cube: coordinate 'time' has dims {time.dims}, expected ('time',)")
    if time.dtype != np.dtype("datetime64[ns]"):
        raise CubeError(
            f"interval cube: coordinate 'time' has dtype {time.dtype}, expected datetime64[ns] "
            "(naive UTC interval start times, no time zone attached)"
        )
    tvals = time.values
    if tvals.size == 0:
        raise CubeError("interval cube: coordinate 'time' is empty")
    if np.isnat(tvals).any():
        raise CubeError("interval cube: coordinate 'time' contains NaT")
    step_attr = ds.attrs.get("step_minutes")
    if step_attr is None:
        raise CubeError("interval cube: dataset attribute 'step_minutes' is missing (e.g. 15)")
    try:
        step_minutes = int(step_attr)
    except (TypeError, ValueError):
        raise CubeError(
            f"interval cube: attribute 'step_minutes' is {step_attr!r}, expected an integer"
        ) from None
    if step_minutes <= 0 or step_minutes != step_attr:
        raise CubeError(
            f"interval cube: attribute 'step_minutes' is {step_attr!r}, expected a positive integer"
        )
    if tvals.size > 1:
        diffs = np.diff(tvals)
        step = np.timedelta64(step_minutes, "m")
        bad = np.flatnonzero(diffs != step)
        if bad.size:
            i = int(bad[0])
            raise CubeError(
                f"interval cube: coordinate 'time' is not uniform: step from {tvals[i]} to {tvals[i + 1]} is "
                f"{diffs[i].astype('timedelta64[s]')}, expected {step_minutes} minutes "
                f"({bad.size} bad step(s))"
            )

    # --- the meter axis ---
    if "meter" not in ds.coords:
        raise CubeError(f"interval cube: coordinate 'meter' is missing (meter ids; {_DOC})")
    meter = ds["meter"]
    if meter.dims != ("meter",):
        raise CubeError(f"interval cube: coordinate 'meter' has dims {meter.dims}, expected ('meter',)")
    if not _is_str_dtype(meter.dtype):
        raise CubeError(f"interval cube: coordinate 'meter' has dtype {meter.dtype}, expected strings")
    mvals = meter.values
    if mvals.size == 0:
        raise CubeError("interval cube: coordinate 'meter' is empty")
    uniq, counts = np.unique(_as_unicode(mvals), return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][:5].tolist()
        raise CubeError(f"interval cube: coordinate 'meter' has duplicate meter ids: {dup}")

    for name, kind in METER_COORDS.items():
        if name not in ds.variables:
            raise CubeError(f"interval cube: coordinate '{name}' (on meter) is missing ({_DOC})")
        v = ds[name]
        if v.dims != ("meter",):
            raise CubeError(f"interval cube: coordinate '{name}' has dims {v.dims}, expected ('meter',)")
        if not _kind_ok(v.dtype, kind):
            want = {"str": "strings", "float": "a float dtype (float32)", "int": "an integer dtype (int16)"}[
                kind
            ]
            raise CubeError(f"interval cube: coordinate '{name}' has dtype {v.dtype}, expected {want}")

    classes = np.unique(_as_unicode(ds["customer_class"].values))
    unknown = sorted(set(classes.tolist()) - set(CUSTOMER_CLASSES))
    if unknown:
        raise CubeError(
            f"interval cube: coordinate 'customer_class' has unknown class(es) {unknown}, "
            f"expected one of {list(CUSTOMER_CLASSES)}"
        )

    # --- interval variables ---
    for name, dtype in INTERVAL_VARS.items():
        if name not in ds.data_vars:
            raise CubeError(f"interval cube: variable '{name}' is missing ({_DOC})")
        v = ds[name].variable
        if v.dims != ("meter", "time"):
            raise CubeError(f"interval cube: variable '{name}' has dims {v.dims}, expected ('meter', 'time')")
        if v.dtype != dtype:
            raise CubeError(f"interval cube: variable '{name}' has dtype {v.dtype}, expected {dtype}")
        if check_chunks and not _time_chunks_ok(v, tvals.size):
            raise CubeError(
                f"interval cube: variable '{name}' is chunked along 'time'; the cube must be chunked along "
                "'meter' only (time in one chunk). Rechunk with ds.chunk({'time': -1}) or rewrite it with "
                "workbench.ami.cube.write_cube"
            )
    _check_reactive(ds, tvals.size, check_chunks)
    if check_chunks:
        _check_meter_chunks(ds)

    # --- bill cycles ---
    if "cycle_id" not in ds.coords:
        raise CubeError(f"interval cube: coordinate 'cycle_id' is missing (bill cycle numbers; {_DOC})")
    if ds["cycle_id"].dims != ("cycle_id",) or not np.issubdtype(ds["cycle_id"].dtype, np.integer):
        raise CubeError(
            f"interval cube: coordinate 'cycle_id' has dims {ds['cycle_id'].dims} and dtype "
            f"{ds['cycle_id'].dtype}, expected ('cycle_id',) integers"
        )
    if "read_date" not in ds.variables:
        raise CubeError(
            f"interval cube: variable 'read_date' is missing (the cycles' meter-read dates; {_DOC})"
        )
    rd = ds["read_date"]
    if len(rd.dims) != 2 or rd.dims[0] != "cycle_id":
        raise CubeError(
            f"interval cube: variable 'read_date' has dims {rd.dims}, expected ('cycle_id', 'read')"
        )
    if rd.dtype != np.dtype("datetime64[ns]"):
        raise CubeError(f"interval cube: variable 'read_date' has dtype {rd.dtype}, expected datetime64[ns]")
    cyc = np.asarray(ds["cycle"].values)
    missing = sorted(set(np.unique(cyc).tolist()) - set(np.asarray(ds["cycle_id"].values).tolist()))
    if missing:
        raise CubeError(
            f"interval cube: coordinate 'cycle' uses bill cycle(s) {missing[:10]} that have no read dates "
            "in 'read_date' (not in 'cycle_id')"
        )

    # --- attributes ---
    tz = ds.attrs.get("timezone")
    if not tz:
        raise CubeError(
            "interval cube: dataset attribute 'timezone' is missing (IANA name, e.g. America/New_York)"
        )
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CubeError(
            f"interval cube: attribute 'timezone' is {tz!r}, not a known IANA time zone"
        ) from None

    if deep:
        q = ds["quality"]
        bad_q = int((q > QUALITY_MISSING).sum())
        if bad_q:
            raise CubeError(
                f"interval cube: variable 'quality' has {bad_q} value(s) other than 0 (actual), 1 (estimated), "
                "2 (missing)"
            )
        for name in ("delivered_kwh", "received_kwh", *(n for n in OPTIONAL_INTERVAL_VARS if n in ds)):
            neg = int((ds[name] < 0).sum())
            if neg:
                raise CubeError(f"interval cube: variable '{name}' has {neg} negative value(s)")
    return ds


def _check_reactive(ds: xr.Dataset, n_time: int, check_chunks: bool) -> None:
    """The reactive channel, when the cube has one: both variables, their dims and dtypes."""
    has_var, has_flag = REACTIVE_VAR in ds.data_vars, HAS_REACTIVE in ds.variables
    if not has_var and not has_flag:
        return  # a cube without the channel: no meter has reactive data
    if not has_var or not has_flag:
        there, absent = (REACTIVE_VAR, HAS_REACTIVE) if has_var else (HAS_REACTIVE, REACTIVE_VAR)
        raise CubeError(f"interval cube: '{there}' without '{absent}': the reactive channel needs both (the kVARh "
                        f"per interval and, per meter, whether it records kVARh; {_DOC})")
    v = ds[REACTIVE_VAR].variable
    if v.dims != ("meter", "time") or v.dtype != OPTIONAL_INTERVAL_VARS[REACTIVE_VAR]:
        raise CubeError(f"interval cube: variable '{REACTIVE_VAR}' has dims {v.dims} and dtype {v.dtype}, expected "
                        "('meter', 'time') float32 [kVARh]")
    flag = ds[HAS_REACTIVE]
    if flag.dims != ("meter",) or flag.dtype != np.dtype(bool):
        raise CubeError(f"interval cube: coordinate '{HAS_REACTIVE}' has dims {flag.dims} and dtype {flag.dtype}, "
                        "expected ('meter',) bool")
    if check_chunks and not _time_chunks_ok(v, n_time):
        raise CubeError(f"interval cube: variable '{REACTIVE_VAR}' is chunked along 'time'; the cube must be "
                        "chunked along 'meter' only (time in one chunk)")


# ---------------------------------------------------------------------------------------------------------
# chunks: one meter chunking for every interval variable


def _check_meter_chunks(ds: xr.Dataset) -> None:
    """Every interval variable must be chunked along meter the same way (a meter chunk is billed as a unit)."""
    names = [name for name in (*INTERVAL_VARS, *OPTIONAL_INTERVAL_VARS) if name in ds]
    on_disk = {n: int(ds[n].encoding["chunks"][0]) for n in names
               if ds[n].encoding.get("chunks") is not None and len(ds[n].encoding["chunks"]) == ds[n].ndim}
    in_dask = {n: tuple(ds[n].chunks[0]) for n in names if ds[n].chunks is not None}
    for where, chunking in (("on disk", on_disk), ("in dask", in_dask)):
        if len(set(chunking.values())) > 1:
            (first, c0), *rest = chunking.items()
            other, c1 = next((n, c) for n, c in rest if c != c0)
            show = lambda c: c if isinstance(c, int) else f"{c[:4]}{'...' if len(c) > 4 else ''}"  # noqa: E731
            raise CubeError(
                f"interval cube: inconsistent chunking {where}: variable '{other}' is chunked along 'meter' as "
                f"{show(c1)} but '{first}' as {show(c0)}; every interval variable must use the same meter "
                "chunks. Rewrite the cube with workbench.ami.cube.write_cube(ds, path, meter_chunk=...)"
            )
