"""The NEM 2.0 vs 3.0 dashboard: assembles the store and its views; serves it on 127.0.0.1.

```python
from workbench.app.nem_app import serve
server = serve(5006, "data/sample/cube.zarr")   # a thread; open http://127.0.0.1:5006/
server.join()                                   # block (a command line), or server.stop()
```
"""

from __future__ import annotations

import panel as pn

from workbench.app.nem_store import NemStudyStore
from workbench.app.nem_views import BillDistribution, HeadlineNumbers, StudyControls, SummaryTable
from workbench.design.nem_study import DEFAULT_SIZES, StudyData, ensure_sample_cube

TITLE = "NEM 2.0 vs NEM 3.0: bill impact of rooftop solar"


def load_study(cube_path, n_meters: int = 300, *, classes=None, sizes=DEFAULT_SIZES, seed: int = 42) -> StudyData:
    """Scan the cube at ``cube_path`` once (generating the sample utility there with ``n_meters`` if missing)."""
    ensure_sample_cube(cube_path, n_meters=n_meters, seed=seed)
    return StudyData.from_cube(cube_path, classes=classes, sizes=sizes)


def create_app(cube_path=None, n_meters: int = 300, *, study: StudyData | None = None, **store_options) -> pn.Column:
    """The dashboard for one session: controls, headline numbers, bill distribution, summary table.

    Give ``study`` (already scanned, shared by sessions) or ``cube_path`` (scanned now). ``store_options``:
    initial options of :class:`NemStudyStore` (``customer_class``, ``size_kw``, ``vintage``, ...).
    The returned layout carries the store and views as attributes ``store``, ``views``.
    """
    if study is None:
        if cube_path is None:
            raise ValueError("create_app needs a cube_path or a scanned study")
        study = load_study(cube_path, n_meters)
    store = NemStudyStore(study, **store_options)
    views = {"controls": StudyControls(store=store), "numbers": HeadlineNumbers(store=store),
             "bills": BillDistribution(store=store), "summary": SummaryTable(store=store)}
    intro = pn.pane.Markdown(
        f"## {TITLE}\nModelled rooftop PV (pvlib, TMY weather) on customers without solar, billed without solar, "
        "under NEM 2.0 and under NEM 3.0 (Net Billing Tariff). Cost shift = bill savings − avoided cost of the "
        "PV generation at the vintage's export values.", sizing_mode="stretch_width")
    layout = pn.Column(
        intro,
        pn.Row(views["controls"], pn.Column(views["numbers"], views["bills"], views["summary"],
                                            sizing_mode="stretch_width"), sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )
    layout.store, layout.views = store, views
    return layout


def serve(port: int = 5006, cube="data/sample/cube.zarr", show: bool = False, *, n_meters: int = 300,
          study: StudyData | None = None, on_session=None):
    """Serve the dashboard at http://127.0.0.1:``port``/ in a background thread; returns the server thread.

    The cube is scanned once (generated with ``n_meters`` meters if missing); every browser session gets its
    own store and views on that shared scan. ``on_session(app)`` is called with each session's layout (tests
    use it to read server-side state). Stop with ``.stop()``; block with ``.join()``.
    """
    study = study if study is not None else load_study(cube, n_meters)

    def session():
        app = create_app(study=study)
        if on_session is not None:
            on_session(app)
        return app

    return pn.serve(session, port=port, address="127.0.0.1", show=show, threaded=True, title=TITLE,
                    websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"])
