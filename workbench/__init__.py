"""Rate Workbench: electric-utility rate analysis and billing on interval data.

Layout, bottom to top (a module imports only from the layers below it; ``tests/test_layers.py`` checks):

- ``workbench.errors``, ``workbench.outputs``  errors for people; owned output folders, atomic writes, locks
- ``workbench.kernels``   numba kernels only (plain arrays in and out; import nothing of ours)
- ``workbench.calendar``  local time, day types, holidays, timestamps, bill periods
- ``workbench.tariffs``   the tariff model: YAML loader, URDB import, compiling to schedule arrays
- ``workbench.ami``       readers, meter registry, ingest, the interval cube store and its calendar
- ``workbench.vee``       validation, estimation, editing, the bill-ready verdict
- ``workbench.engine``    scan once, price many: determinants, pricing, bills
- ``workbench.nem``       net-metering settlement on determinants
- ``workbench.billing``   bill runs: one meter with its program, cycles over cube chunks, dask, resume
- ``workbench.sample``    the synthetic sample utility and its AMI export
- ``workbench.design``    studies on the whole customer base (NEM 2.0 vs 3.0)
- ``workbench.app``       Panel dashboards; ``workbench.cli``: the ``workbench`` command (options in
  ``workbench.cli_parser``)
"""

__version__ = "0.1.0"
