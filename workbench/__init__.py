"""Rate Workbench: electric-utility rate analysis and billing on interval data.

Layout (the data flow, left to right):

- ``workbench.ami``      interval cube store (Zarr), readers, sample utility
- ``workbench.tariffs``  the tariff model: YAML loader, URDB import, compiling to schedule arrays
- ``workbench.kernels``  numba kernels only (no xarray, no pandas)
- ``workbench.billing``  bill periods, determinants (scan), pricing, bills
- ``workbench.cli``      the ``workbench`` command
"""

__version__ = "0.1.0"
