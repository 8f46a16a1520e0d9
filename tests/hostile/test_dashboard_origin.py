"""The served NEM dashboard's WebSocket against forged origins (the DNS-rebinding pattern).

A real server (:func:`workbench.app.nem_app.serve` on a free port) and raw WebSocket handshakes from
Tornado's client, with the Host and Origin headers a rebinding page's browser would send. The page is
fetched first for a real session token, so an accepted handshake is a full Bokeh connection (its ACK).
"""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.request

import numpy as np
import pytest

pytest.importorskip("panel")

from _fixtures import free_port  # noqa: E402
from tornado.httpclient import HTTPClientError, HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from workbench.app.nem_app import origin_allow_list, origin_allowed, serve  # noqa: E402
from workbench.design.nem_study import StudyData  # noqa: E402
from workbench.sample import utility_time_axis  # noqa: E402


@pytest.fixture(scope="module")
def served():
    utc = utility_time_axis(2025).astype("datetime64[m]")
    study = StudyData.from_arrays(utc, 15, np.full((4, len(utc)), 0.3, np.float32), None, ["RES"] * 4,
                                  timezone="America/New_York", sizes=(0, 5))
    port = free_port()
    server = serve(port, study=study, allow_origins=["dash.example.org:8443"])
    yield port
    server.stop()


def _token(port: int) -> str:
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60).read().decode()
    return re.search(r'"token":"([^"]+)"', page).group(1)


def _handshake(port: int, host: str, origin: str, sec_fetch_site: str | None = None):
    """``accepted`` (the server's first message arrived) or ``refused <HTTP status>``."""
    headers = {"Host": host, "Origin": origin}
    if sec_fetch_site:
        headers["Sec-Fetch-Site"] = sec_fetch_site
    token = _token(port)

    async def connect():
        request = HTTPRequest(f"ws://127.0.0.1:{port}/ws", headers=headers, request_timeout=30)
        try:
            conn = await websocket_connect(request, subprotocols=["bokeh", token])
        except HTTPClientError as exc:
            return f"refused {exc.code}"
        try:
            first = await asyncio.wait_for(conn.read_message(), 30)
        finally:
            conn.close()
        return "accepted" if first is not None else "closed"

    return asyncio.run(connect())


def test_forged_origin_equal_to_forged_host_is_refused(served):
    """WS handshake with Host and Origin both evil.example:PORT (DNS rebinding): refused with 403."""
    assert _handshake(served, f"evil.example:{served}", f"http://evil.example:{served}") == "refused 403"


def test_forged_origin_claiming_same_origin_fetch_is_refused(served):
    """WS handshake with Origin evil.example and Sec-Fetch-Site: same-origin: refused with 403."""
    assert _handshake(served, f"evil.example:{served}", f"http://evil.example:{served}",
                      sec_fetch_site="same-origin") == "refused 403"


def test_forged_origin_with_the_real_host_is_refused(served):
    """WS handshake with Host 127.0.0.1:PORT but Origin evil.example: refused with 403."""
    assert _handshake(served, f"127.0.0.1:{served}", f"http://evil.example:{served}") == "refused 403"


def test_origin_on_another_port_is_refused(served):
    """WS handshake with Origin http://127.0.0.1:<another port> (another local site): refused with 403."""
    assert _handshake(served, f"127.0.0.1:{served}", f"http://127.0.0.1:{served + 1}") == "refused 403"


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_the_legitimate_origins_are_accepted(served, name):
    """WS handshake from http://127.0.0.1:PORT or http://localhost:PORT: accepted, the session answers."""
    assert _handshake(served, f"{name}:{served}", f"http://{name}:{served}") == "accepted"


def test_an_allow_origin_given_is_accepted(served):
    """WS handshake from https://dash.example.org:8443 (given as allow_origins): accepted."""
    assert _handshake(served, "dash.example.org:8443", "https://dash.example.org:8443") == "accepted"


def test_the_allow_list_is_exact():
    """origin_allowed: exact host and port (scheme default ports), no suffix or prefix matches."""
    allowed = origin_allow_list(5006, ["proxy.example.org", "https://secure.example.org"])
    assert allowed == ["127.0.0.1:5006", "localhost:5006", "proxy.example.org:80", "secure.example.org:443"]
    assert origin_allowed("http://localhost:5006", allowed)
    assert origin_allowed("http://proxy.example.org", allowed)
    assert origin_allowed("https://secure.example.org", allowed)
    assert not origin_allowed("http://localhost:5007", allowed)
    assert not origin_allowed("http://localhost", allowed)
    assert not origin_allowed("http://proxy.example.org.evil.com", allowed)
    assert not origin_allowed("http://evil-localhost:5006", allowed)
    assert not origin_allowed("null", allowed)
    with pytest.raises(ValueError, match="is not an origin"):
        origin_allow_list(5006, ["http://host/path"])


def test_serve_on_a_port_in_use_raises_at_the_call():
    """serve() on a port another socket listens on: OSError (address in use) in the caller, not a dead thread."""
    utc = utility_time_axis(2025).astype("datetime64[m]")
    study = StudyData.from_arrays(utc, 15, np.full((2, len(utc)), 0.3, np.float32), None, ["RES"] * 2,
                                  timezone="America/New_York", sizes=(0, 5))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError, match="in use"):
            serve(busy.getsockname()[1], study=study)
