"""numba kernels only: plain loops over numpy arrays. No xarray, no pandas here."""

from workbench.kernels.scan import scan_determinants

__all__ = ["scan_determinants"]
