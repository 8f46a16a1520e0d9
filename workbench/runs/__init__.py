"""Audited billing-cycle runs: exception rules, posting to the ledger, bill documents, the run's record.

- :mod:`workbench.runs.rules` (thresholds in :mod:`workbench.runs.config`, ``defaults.yaml``): which bills a
  billing manager must review before release, each with a rule code and a reason;
- :mod:`workbench.runs.record`: the run id, the inputs' checksums and the code version kept with the executed
  notebook under ``reports/runs/<run-id>/``;
- :mod:`workbench.runs.assure`: revenue assurance (energy in the cube tied to energy billed, held or explained);
- :mod:`workbench.runs.compare`: a parallel run against a legacy billing system's bills.

See docs/cycle-runs.md.
"""
