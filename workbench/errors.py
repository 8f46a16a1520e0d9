"""Errors for people.

Every error the workbench raises on bad input is a :class:`WorkbenchError`. Its message names the file, the
field or row, what was found and what was expected, so a billing manager can act on it. The command line
prints the message (no traceback) and exits with status 2. :func:`require` is the one way a feature imports an
optional library: a missing one is such an error, naming the extra to install.
"""

import importlib


class WorkbenchError(Exception):
    """Bad input or configuration, explained in the message."""


class TariffError(WorkbenchError):
    """A tariff file is invalid (unknown field, overlapping ToU hours, non-monotonic tiers...)."""


class IntervalDataError(WorkbenchError):
    """Interval data cannot be used as given (non-uniform step, duplicates, missing offset...)."""


class CubeError(WorkbenchError):
    """The interval cube on disk does not follow docs/cube.md."""


class BillingError(WorkbenchError):
    """Bills cannot be computed (no tariff for a rate code, no bill periods in the data...)."""


class MissingExtraError(WorkbenchError):
    """A feature needs an optional library that is not installed; the message names the extra to install."""


# the URL schemes fsspec serves through a library outside the core install: scheme -> (module, extra)
URL_LIBRARIES = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3")}


def require(module: str, extra: str, what: str):
    """Import and return ``module``, or raise :class:`MissingExtraError` in one line: what needs it and the
    ``pip install 'rate-workbench[extra]'`` that brings it.

    >>> require("json", "core", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{what} needs the Python package {module.split('.')[0]}, which is not installed: "
                                f"pip install 'rate-workbench[{extra}]'") from None


def require_for_url(url, what: str = "reading") -> None:
    """For an fsspec URL (``s3://bucket/cube.zarr``): fsspec and the scheme's library, or the one-line error
    naming the extra; nothing for a local path or a scheme fsspec serves itself."""
    text = str(url)
    if "://" not in text:
        return
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("file", "memory"):
        return
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        require("psycopg", "postgres", f"{what} {text.split('@')[-1]}")
        return
    module, extra = URL_LIBRARIES.get(scheme, ("fsspec", "s3"))
    require("fsspec", extra, f"{what} {text}")
    require(module, extra, f"{what} {text}")
