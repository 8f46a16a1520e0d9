"""The NEM 2.0 vs 3.0 dashboard: assembles the store and its views; serves it on 127.0.0.1.

```python
from workbench.app.nem_app import serve
server = serve(5006, "data/sample/cube.zarr")   # a thread; open http://127.0.0.1:5006/
server.join()                                   # block (a command line), or server.stop()
```

WebSocket origins: the browser's live connection is accepted only from the origins of an explicit
allow-list, ``127.0.0.1:PORT``, ``localhost:PORT`` and any ``allow_origins`` given (``--allow-origin``).
Tornado (6.6+) skips its origin check when the ``Origin`` header equals the ``Host`` header or when
``Sec-Fetch-Site`` says same-origin, which is exactly what a DNS-rebinding page sends (its own name, resolved
to 127.0.0.1); so :func:`serve` refuses such handshakes itself (403) before Tornado's check.
"""

from __future__ import annotations

import logging
import threading
import uuid
from urllib.parse import urlsplit

import panel as pn
from bokeh.server.views.ws import WSHandler as _BokehWSHandler
from panel.io.threads import StoppableThread
from tornado.ioloop import IOLoop

from workbench.app.nem_store import NemStudyStore
from workbench.app.nem_views import BillDistribution, HeadlineNumbers, StudyControls, SummaryTable
from workbench.design.nem_study import DEFAULT_SIZES, StudyData, Weather, ensure_sample_cube

TITLE = "NEM 2.0 vs NEM 3.0: bill impact of rooftop solar"
_log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def load_study(cube_path, n_meters: int = 300, *, classes=None, sizes=DEFAULT_SIZES, seed: int = 42,
               weather: Weather | None = None) -> StudyData:
    """Scan the cube at ``cube_path`` once (generating the sample utility there with ``n_meters`` if missing).

    ``weather``: the PV's weather file and site (default: pvlib's Greensboro NC TMY3)."""
    ensure_sample_cube(cube_path, n_meters=n_meters, seed=seed)
    return StudyData.from_cube(cube_path, classes=classes, sizes=sizes, weather=weather or Weather())


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


def origin_allow_list(port: int, extra=()) -> list[str]:
    """``host:port`` entries a WebSocket ``Origin`` must match: 127.0.0.1 and localhost on ``port``, plus ``extra``.

    An extra entry is ``host``, ``host:port`` or a URL (``https://host:port``); without a port it means the
    scheme's default port (80, or 443 for an ``https://`` entry).
    """
    allowed = [f"127.0.0.1:{port}", f"localhost:{port}"]
    for entry in extra:
        text = str(entry).strip().lower()
        parts = urlsplit(text if "://" in text else f"http://{text}")
        try:
            entry_port = parts.port
        except ValueError:
            entry_port = -1
        if not parts.hostname or entry_port == -1 or parts.path not in ("", "/") or parts.query:
            raise ValueError(f"{entry!r} is not an origin like dashboard.example.org:8443 or https://host:port")
        netloc = f"{parts.hostname}:{entry_port or _DEFAULT_PORTS.get(parts.scheme, 80)}"
        if netloc not in allowed:
            allowed.append(netloc)
    return allowed


def origin_allowed(origin: str, allowed) -> bool:
    """Whether the ``Origin`` header ``origin`` (``scheme://host[:port]``) is one of ``allowed`` (exact host:port)."""
    parts = urlsplit(origin.strip().lower())
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    if not parts.hostname or port is None:
        return False
    return f"{parts.hostname}:{port}" in allowed


def _guard_websockets(server, allowed) -> int:
    """Swap each WebSocket handler of the Bokeh ``server`` for one that checks the Origin against ``allowed``."""
    allowed = frozenset(allowed)

    class OriginAllowListMixin:
        async def prepare(self):
            await super().prepare()
            if self._finished:
                return
            headers = self.request.headers
            origin = headers.get("Origin") or headers.get("Sec-WebSocket-Origin")
            # no Origin: not a browser (every browser sends it on a WebSocket), so no rebinding page behind it
            if origin is not None and not origin_allowed(origin, allowed):
                _log.warning("refused a WebSocket from Origin %r (Host %r): not in the allow-list %s; "
                             "add it with --allow-origin", origin, headers.get("Host"), sorted(allowed))
                self.set_status(403)
                self.finish("WebSocket origin not allowed")

    swapped = 0
    for rule in server._tornado.wildcard_router.rules:
        target = rule.target
        if isinstance(target, type) and issubclass(target, _BokehWSHandler):
            rule.target = type(f"OriginChecked{target.__name__}", (OriginAllowListMixin, target), {})
            swapped += 1
    if not swapped:  # a Panel/Bokeh change moved the handler: never serve without the check
        raise RuntimeError("no Bokeh WebSocket handler found to guard; refusing to serve without an origin check")
    return swapped


def serve(port: int = 5006, cube="data/sample/cube.zarr", show: bool = False, *, n_meters: int = 300,
          study: StudyData | None = None, on_session=None, allow_origins=(), weather: Weather | None = None):
    """Serve the dashboard at http://127.0.0.1:``port``/ in a background thread; returns the server thread.

    The cube is scanned once (generated with ``n_meters`` meters if missing); every browser session gets its
    own store and views on that shared scan. ``on_session(app)`` is called with each session's layout (tests
    use it to read server-side state). ``allow_origins``: more WebSocket origins to accept (a reverse proxy's
    name), beside 127.0.0.1 and localhost on ``port``. ``weather``: the PV's weather file and site (a
    :class:`~workbench.design.solar.Weather`; default pvlib's Greensboro NC TMY3). Returns once the port is bound (an ``OSError`` such as
    address in use is raised here); stop with ``.stop()``; block with ``.join()``.
    """
    origin_allow_list(port, allow_origins)  # a wrong origin fails before a missing cube is generated
    study = study if study is not None else load_study(cube, n_meters, weather=weather)

    def session():
        app = create_app(study=study)
        if on_session is not None:
            on_session(app)
        return app

    return serve_sessions(session, port, TITLE, show=show, allow_origins=allow_origins)


def serve_sessions(session, port: int, title: str, *, show: bool = False, allow_origins=()):
    """Serve ``session()`` (a new layout per browser session) on 127.0.0.1:``port`` in a background thread,
    with the WebSocket origin allow-list; returns once the port is bound (``.stop()``, ``.join()``)."""
    allowed = origin_allow_list(port, allow_origins)
    loop = IOLoop(make_current=False)
    ready = threading.Event()
    failure: list[BaseException] = []

    def run(server_id):
        try:
            server = pn.serve(session, port=port, address="127.0.0.1", show=False, start=False, loop=loop,
                              title=title, websocket_origin=allowed, server_id=server_id, verbose=False)
            _guard_websockets(server, allowed)
            server.start()
        except BaseException as exc:  # handed to the caller, which raises it
            failure.append(exc)
            ready.set()
            return None
        if show:
            loop.add_callback(server.show, "/")
        loop.add_callback(ready.set)
        loop.start()
        return server

    server_id = uuid.uuid4().hex
    thread = StoppableThread(io_loop=loop, owns_loop=True, target=run, kwargs={"server_id": server_id},
                             daemon=True)
    thread.start()
    while not ready.wait(0.5):
        if not thread.is_alive():
            raise RuntimeError("the dashboard server's thread ended before it served")
    if failure:
        thread.join()
        raise failure[0]
    return thread
