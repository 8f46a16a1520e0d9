"""The interval cube store (see ``docs/cube.md``).

The interval cube is an :class:`xarray.Dataset` with dims ``(meter, time)`` kept on disk as a Zarr directory,
chunked along ``meter`` only (``time`` is one chunk, because it is a core dimension of the scan kernels).

- :func:`write_cube` writes a cube atomically: into a hidden temporary directory beside the target, renamed
  into place only when everything is written. A failed or interrupted write never leaves a half-written cube.
- :func:`open_cube` opens a cube lazily (dask-backed, one dask chunk per Zarr chunk) or in memory.
- :func:`validate_cube` checks a dataset against ``docs/cube.md`` and raises :class:`~workbench.errors.CubeError`
  naming the variable or coordinate that is wrong.

Zarr notes (zarr-python 3.x writes Zarr format 3 by default):

- String coordinates (``meter``, ``account``, ...) are written as variable-length UTF-8 strings (the Zarr v3
  ``string`` data type; fixed-width numpy unicode has no v3 specification yet). Zarr hands them back as numpy
  ``StringDType``; :func:`open_cube` converts every string coordinate back to fixed-width numpy unicode
  (``<U..``) and loads it into memory (they are small: one value per meter).
- Consolidated metadata is written (it is not yet part of the v3 specification; zarr-python warns about that
  and we silence the warning).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import uuid
import warnings
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from workbench.ami.cube_writer import cube_writer, read_version, write_version
from workbench.errors import CubeError

QUALITY_ACTUAL = 0
QUALITY_ESTIMATED = 1
QUALITY_MISSING = 2

#: data variables on (meter, time), with their dtypes
INTERVAL_VARS = {
    "delivered_kwh": np.dtype("float32"),
    "received_kwh": np.dtype("float32"),
    "quality": np.dtype("uint8"),
}

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


def validate_cube(ds: xr.Dataset, *, check_chunks: bool = True, deep: bool = False) -> xr.Dataset:
    """Check ``ds`` against ``docs/cube.md``; raise :class:`CubeError` naming what is wrong.

    Cheap checks only by default (names, dims, dtypes, the time axis, coordinates, attributes and chunking);
    ``deep=True`` also reads the data to check quality codes and non-negative energy. Returns ``ds``.
    """
    if not isinstance(ds, xr.Dataset):
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
        for name in ("delivered_kwh", "received_kwh"):
            neg = int((ds[name] < 0).sum())
            if neg:
                raise CubeError(f"interval cube: variable '{name}' has {neg} negative value(s)")
    return ds


# ---------------------------------------------------------------------------------------------------------
# chunks: one meter chunking for every interval variable, and no chunk missing on disk


def _check_meter_chunks(ds: xr.Dataset) -> None:
    """Every interval variable must be chunked along meter the same way (a meter chunk is billed as a unit)."""
    names = [name for name in INTERVAL_VARS if name in ds]
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


def open_zarr_group(path: str | os.PathLike):
    """The cube's Zarr group, read-only (local path or an fsspec URL such as ``s3://bucket/cube.zarr``)."""
    import zarr

    text = str(path)
    if "://" in text:
        return zarr.open_group(text, mode="r")
    meta = Path(text) / "zarr.json"
    stamp = meta.stat().st_mtime_ns if meta.exists() else 0
    return _open_local_group(str(Path(text).resolve()), stamp)


@functools.lru_cache(maxsize=8)
def _open_local_group(path: str, stamp: int):  # stamp: a rewritten cube (new zarr.json) is opened again
    import zarr

    with quiet_zarr():
        return zarr.open_group(path, mode="r")


def _chunk_exists(arr, coords: tuple[int, ...]) -> tuple[str, bool]:
    from zarr.core.sync import sync

    key = arr.metadata.encode_chunk_key(coords)
    store_path = arr.store_path
    full = f"{store_path.path}/{key}" if store_path.path else key
    return key, bool(sync(store_path.store.exists(full)))


def check_chunks_present(group, start: int, stop: int, cube: str | os.PathLike = "", meters=None) -> None:
    """Raise :class:`CubeError` if a chunk of meters ``start:stop`` of ``delivered_kwh`` or ``received_kwh``
    is missing on disk.

    Zarr reads a missing chunk as its fill value, NaN for energy: bills computed from it would silently
    be wrong. A missing energy chunk is accepted only where the quality chunk is present and marks every
    interval missing (Zarr does not write a chunk that is all fill value). A missing ``quality`` chunk
    reads as 0 (actual), which is what Zarr writes for an all-actual chunk, so it is not an error.
    """
    quality = group["quality"]
    for name in ("delivered_kwh", "received_kwh"):
        arr = group[name]
        mc = arr.chunks[0]
        for i in range(start // mc, -(-stop // mc)):
            for j in range(-(-arr.shape[1] // arr.chunks[1])):
                key, present = _chunk_exists(arr, (i, j))
                if present:
                    continue
                a, b = i * mc, min((i + 1) * mc, arr.shape[0])
                if _chunk_exists(quality, (i, j))[1] and (quality[a:b] == QUALITY_MISSING).all():
                    continue  # an all-missing chunk: nothing to write, and quality says so
                who = f"meters {a}..{b - 1}"
                if meters is not None and len(meters):
                    ids = np.asarray(meters)
                    who += f" ({ids[max(a - start, 0)]} to {ids[min(b, stop) - 1 - start]})"
                raise CubeError(
                    f"{cube}: chunk {key} of variable '{name}' ({who}) is missing on disk; Zarr would read it as "
                    "NaN (no data) and the bills would be wrong. Restore the cube (rewrite it with "
                    "workbench.ami.cube.write_cube or re-run the import) and run again"
                )


# ---------------------------------------------------------------------------------------------------------
# atomic directories


def _looks_like_zarr(path: Path) -> bool:
    return any((path / name).exists() for name in ("zarr.json", ".zgroup", ".zattrs", ".zmetadata"))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success rename it to ``path``.

    On any exception the temporary directory is removed and ``path`` is left as it was. An existing ``path``
    is replaced only if ``overwrite`` and it is a Zarr store (never an unrelated directory or file). The whole
    write holds the writer lock of ``path`` (:func:`~workbench.ami.cube_writer.cube_writer`; taken once when the
    caller already holds it), and a symbolic link is followed: the real directory is replaced, the link stays.
    """
    with cube_writer(path) as target:
        yield from _atomic_directory(target, overwrite)


def _atomic_directory(target: Path, overwrite: bool) -> Iterator[Path]:
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if not overwrite:
            raise CubeError(f"{target}: already exists (pass overwrite=True to replace it)")
        if not (target.is_dir() and _looks_like_zarr(target)):
            raise CubeError(f"{target}: exists and is not a Zarr store; refusing to replace it")
    tag = uuid.uuid4().hex[:12]
    tmp = parent / f".{target.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = parent / f".{target.name}.old-{tag}"
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Silence zarr-python warnings about v3 features that are not yet in the specification."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message=".*not part in the Zarr format 3 specification.*")
        yield


# ---------------------------------------------------------------------------------------------------------
# write / open


def _for_disk(ds: xr.Dataset) -> xr.Dataset:
    """Strings as object (Zarr v3 variable-length UTF-8), stale encodings dropped."""
    ds = ds.copy()
    for name, var in ds.variables.items():
        var.encoding = {}
        if _is_str_dtype(var.dtype) and name not in ds.dims:
            ds[name] = var.copy(data=_as_unicode(var.values).astype(object))
    # index coordinates (meter) cannot be replaced through ds[name] =
    for dim in ds.dims:
        if dim in ds.variables and _is_str_dtype(ds[dim].dtype):
            ds = ds.assign_coords({dim: _as_unicode(ds[dim].values).astype(object)})
    return ds


def write_cube(
    ds: xr.Dataset, path: str | os.PathLike, meter_chunk: int = 1000, *, overwrite: bool = True
) -> Path:
    """Write interval cube ``ds`` to the Zarr directory ``path``, atomically; return the path.

    The cube is validated first (:func:`validate_cube`), then written chunked along ``meter`` in chunks of
    ``meter_chunk`` meters with ``time`` in one chunk. The data go to a hidden temporary directory beside
    ``path`` that is renamed into place only when complete; an existing cube at ``path`` is replaced
    (``overwrite=True``) in the same way, under the cube's writer lock, with a new version
    (:mod:`workbench.ami.cube_writer`).
    """
    if int(meter_chunk) < 1:
        raise ValueError(f"meter_chunk must be >= 1, got {meter_chunk}")
    validate_cube(ds, check_chunks=False)
    n_meter = ds.sizes["meter"]
    n_time = ds.sizes["time"]
    mc = min(int(meter_chunk), n_meter)
    out = _for_disk(ds)
    # interval variables chunked along meter; everything else small and in memory (object strings in
    # dask would make xarray load them anyway, with a warning)
    for name in list(out.variables):
        if name in INTERVAL_VARS or (name in out.data_vars and out[name].dims == ("meter", "time")):
            out[name] = out[name].chunk({"meter": mc, "time": -1})
        elif out[name].chunks is not None:
            loaded = out[name].variable.load()
            if name in out.coords:
                out = out.assign_coords({name: loaded})
            else:
                out[name] = loaded
    # the interval variables, and any other (meter, time) variable (VEE's vee_flags / vee_method), chunked alike
    encoding = {name: {"chunks": (mc, n_time)} for name in INTERVAL_VARS}
    encoding.update({name: {"chunks": (mc, n_time)} for name, var in out.data_vars.items()
                     if var.dims == ("meter", "time") and name not in encoding})
    for name in (*METER_COORDS, "meter"):
        encoding[name] = {"chunks": (n_meter,)}
    with cube_writer(path) as target:  # one writer at a time (docs/cube.md), the same lock as ingest and VEE
        previous = read_version(target) if target.is_dir() else {}
        with atomic_directory(target, overwrite=overwrite) as tmp, quiet_zarr():
            out.to_zarr(tmp, mode="w", consolidated=True, encoding=encoding)
            write_version(tmp, {k: v for k, v in previous.items() if k == "version"}, "write_cube", "")
    return Path(path)


def _strings_to_unicode(ds: xr.Dataset) -> xr.Dataset:
    """Load the small variables (per-meter coordinates, read dates) into memory; strings as numpy unicode."""
    updates = {}
    for name, var in ds.coords.items():
        if var.ndim == 1 and _is_str_dtype(var.dtype):
            updates[name] = (var.dims, _as_unicode(var.values), var.attrs)
        elif var.ndim == 1 and var.dims == ("meter",) and var.chunks is not None:
            updates[name] = var.load()
    ds = ds.assign_coords(updates) if updates else ds
    if "read_date" in ds.data_vars and ds["read_date"].chunks is not None:
        ds["read_date"] = ds["read_date"].load()
    return ds


def open_cube(path: str | os.PathLike, chunks: bool = True, *, validate: bool = True) -> xr.Dataset:
    """Open the interval cube at ``path``.

    ``chunks=True`` (default): lazily, dask-backed, one dask chunk per Zarr chunk (meter chunks, time whole).
    ``chunks=False``: loaded into memory (numpy). The per-meter coordinates are always in memory, strings as
    numpy unicode. The cube is validated (cheap checks) unless ``validate=False``.
    """
    p = Path(path)
    if not p.exists():
        raise CubeError(f"{p}: no interval cube here (run `workbench sample` or an import first)")
    if not _looks_like_zarr(p):
        raise CubeError(f"{p}: not a Zarr store (no zarr.json / .zgroup)")
    with quiet_zarr():
        try:
            ds = xr.open_zarr(p, chunks={} if chunks else None, consolidated=None)
        except Exception as exc:  # zarr raises many kinds of errors on damaged stores
            raise CubeError(f"{p}: cannot open the interval cube: {exc}") from exc
        if not chunks:
            ds = ds.load()
    ds = _strings_to_unicode(ds)
    if validate:
        try:
            validate_cube(ds)
        except CubeError as exc:
            raise CubeError(f"{p}: {exc}") from None
    return ds
