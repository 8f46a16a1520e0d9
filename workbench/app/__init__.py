"""Panel dashboards: data-store components (state in ``param``), views, and small app files that assemble them.

- ``nem_store.NemStudyStore``: the NEM 2.0 vs 3.0 study's state (the scanned ``StudyData`` and the options).
- ``nem_views``: bill distribution, savings and cost-shift numbers, summary table (each a ``pn.viewable.Viewer``).
- ``nem_app``: ``create_app(cube_path, n_meters=...)`` and ``serve(port, cube, show=False, allow_origins=())``
  (the WebSocket accepts only the origins of an explicit allow-list; see docs/command-line.md).
- ``rates_store.RatesStore`` / ``rates_app``: the rate-design dashboard (``workbench serve rates``) on kept
  test-year determinants: edit a tariff's prices, see revenue, bill impacts and typical bills; save the YAML.

The same components work inside a notebook: ``NemStudyStore(study)`` and any view of it.
"""
