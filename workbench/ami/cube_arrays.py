"""The interval cube's layout and small arrays read straight from Zarr, for a bill run's plan.

A bill run plans from the cube's per-meter coordinates, its time axis, its cycles' read dates and its chunk
layout; it reads the interval data itself, chunk by chunk, with zarr. Opening the cube through xarray for that
costs the run about half a second before its first chunk (xarray, and dask and Jinja2 that xarray imports when it
decodes the time coordinate). :func:`read_cube_arrays` reads the same things with zarr and numpy into a
:class:`CubeArrays`, which answers the questions :func:`~workbench.ami.cube_schema.validate_cube` and the plan
ask of a dataset (names, dims, dtypes, values, chunks, attributes) with what xarray would answer for this cube.

Only for the layout the workbench writes (Zarr format 3, dimension names, CF times as integer ``<unit> since
<date>`` on the proleptic Gregorian calendar, NaN fill values). Anything else (an older Zarr format, packed or
masked integers, a time encoding xarray would decode differently...) gives None, and the caller opens the cube
through xarray as before, so every refusal and its message stay what they were.
"""

from __future__ import annotations

import base64
import re
import struct

import numpy as np

#: attributes xarray reads without changing a variable's values or dtype (besides units/calendar/_FillValue,
#: handled below)
_PLAIN_ATTRS = {"long_name", "standard_name", "description", "flag_values", "flag_meanings", "coordinates",
                "units", "calendar", "_FillValue"}
_TIME_UNITS = re.compile(r"^(days|hours|minutes|seconds) since (\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}:\d{2}))?$")
_UNIT_NS = {"days": 86_400 * 10**9, "hours": 3_600 * 10**9, "minutes": 60 * 10**9, "seconds": 10**9}
_DURATIONS = {"days", "hours", "minutes", "seconds", "milliseconds", "microseconds", "nanoseconds"}
_NAT = -(2**63)
_INT64 = (_NAT + 1, 2**63 - 1)


class CubeVar:
    """One variable of :class:`CubeArrays`: dims, dtype, attributes, its Zarr chunks (``encoding["chunks"]``, as
    xarray gives them) and, for the small ones, its values in memory (as xarray decodes them)."""

    chunks = None  # never a dask array

    def __init__(self, dims: tuple, dtype, attrs: dict, chunks: tuple, shape: tuple, values=None, array=None):
        self.dims, self.dtype, self.attrs, self.shape = dims, np.dtype(dtype), attrs, shape
        self.encoding = {"chunks": chunks}
        self._values, self._array = values, array

    @property
    def ndim(self) -> int:
        return len(self.dims)

    @property
    def variable(self) -> CubeVar:
        return self

    @property
    def values(self) -> np.ndarray:
        if self._values is None:  # an interval variable: read from Zarr when asked (a plan never asks)
            self._values = np.asarray(self._array[...])
        return self._values


class CubeArrays:
    """The cube as :func:`read_cube_arrays` read it: the parts of an ``xarray.Dataset`` a plan and
    :func:`~workbench.ami.cube_schema.validate_cube` use (``coords``, ``data_vars``, ``variables``, ``attrs``,
    ``sizes``, ``ds[name]``, ``name in ds``)."""

    is_cube_arrays = True  # validate_cube accepts it as it does a Dataset

    def __init__(self, variables: dict[str, CubeVar], coord_names: set[str], attrs: dict, sizes: dict[str, int]):
        self.variables, self.attrs, self.sizes = variables, attrs, sizes
        self.coords = {n: v for n, v in variables.items() if n in coord_names}
        self.data_vars = {n: v for n, v in variables.items() if n not in coord_names}

    def __getitem__(self, name: str) -> CubeVar:
        return self.variables[name]

    def __contains__(self, name) -> bool:
        return name in self.variables


def read_cube_arrays(group) -> CubeArrays | None:
    """The cube in the Zarr group ``group`` (read-only) as a :class:`CubeArrays`: every variable's layout, and the
    values of all but those on (meter, time), the interval data; None when its layout is not the plain one described
    in the module docstring (open it through xarray then)."""
    if getattr(group.metadata, "zarr_format", None) != 3 or "coordinates" in group.attrs:
        return None
    variables, coord_names, sizes = {}, set(), {}
    for name, arr in group.arrays():
        dims = arr.metadata.dimension_names
        if dims is None or any(d is None for d in dims) or len(dims) != arr.ndim:
            return None
        dims = tuple(dims)
        for dim, size in zip(dims, arr.shape, strict=True):
            if sizes.setdefault(dim, size) != size:
                return None  # xarray refuses conflicting sizes: let it say so
        attrs = dict(arr.attrs)
        if set(attrs) - _PLAIN_ATTRS or not _plain_fill(attrs, arr.dtype):
            return None
        coord_names.update(str(attrs.pop("coordinates", "")).split())
        if name in dims:
            coord_names.add(name)
        dtype = np.dtype(arr.dtype)
        if dtype.kind not in "biufTU":
            return None
        small = not {"meter", "time"} <= set(dims)
        values = None
        if "since" in str(attrs.get("units", "")):
            if not small:
                return None
            values = _decode_time(arr[...], attrs)
            if values is None:
                return None
            attrs = {k: v for k, v in attrs.items() if k not in ("units", "calendar")}
            dtype = values.dtype
        elif "calendar" in attrs or str(attrs.get("units", "")).strip() in _DURATIONS:
            return None  # (a duration xarray may decode as timedelta64)
        elif small:
            values = arr[...]
        attrs.pop("_FillValue", None)
        variables[name] = CubeVar(dims, dtype, attrs, tuple(arr.chunks), tuple(arr.shape), values,
                                  None if small else arr)
    return CubeArrays(variables, coord_names & set(variables), dict(group.attrs), sizes)


def _plain_fill(attrs: dict, dtype) -> bool:
    """Whether the variable's ``_FillValue`` (if any) leaves its values as they are: NaN of a float array."""
    if "_FillValue" not in attrs:
        return True
    fill = attrs["_FillValue"]
    if getattr(dtype, "kind", None) != "f":
        return False
    if isinstance(fill, float):
        return bool(np.isnan(fill))
    if isinstance(fill, str):
        try:
            raw = base64.b64decode(fill, validate=True)
        except ValueError:
            return fill == "NaN"
        return len(raw) == 8 and bool(np.isnan(struct.unpack("<d", raw)[0]))
    return False


def _decode_time(values: np.ndarray, attrs: dict) -> np.ndarray | None:
    """Integer CF times (``<unit> since <date>``, proleptic Gregorian) as datetime64[ns], as xarray decodes them;
    None for any other encoding, or values that would not fit in nanoseconds."""
    match = _TIME_UNITS.match(str(attrs["units"]).strip())
    calendar = str(attrs.get("calendar", "standard")).lower()
    if match is None or values.dtype.kind not in "iu" or calendar not in ("proleptic_gregorian", "standard", "gregorian"):
        return None
    unit, day, clock = match.groups()
    try:
        ref = np.datetime64(f"{day}T{clock or '00:00:00'}", "ns")
    except ValueError:
        return None
    if ref < np.datetime64("1678-01-01", "ns"):
        return None  # before the Gregorian calendar (standard) or near the edge of datetime64[ns]: xarray's business
    step = _UNIT_NS[unit]
    ints = values.astype(np.int64)
    nat = ints == _NAT  # the lowest int64 is NaT (xarray writes a missing read date so, and reads it back so)
    real = ints[~nat]
    if real.size:
        base = int(ref.astype(np.int64))
        if int(real.min()) * step + base < _INT64[0] or int(real.max()) * step + base > _INT64[1]:
            return None
    out = ref + np.where(nat, 0, ints) * np.timedelta64(step, "ns")
    out[nat] = np.datetime64("NaT", "ns")
    return out
