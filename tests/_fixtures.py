"""Fixtures several test files share: a valid ToU tariff with tiers, and a free local port for a served app."""

from __future__ import annotations

import socket

GOOD_TARIFF = """\
code: TEST
name: Test tariff
timezone: America/New_York
holidays: NERC
seasons:
  summer: [6, 7, 8, 9]
  winter: [1, 2, 3, 4, 5, 10, 11, 12]
time_of_use:
  periods:
    on_peak:
      - {seasons: [all], days: [weekday], hours: "14:00-19:00"}
    off_peak:
      - {seasons: [all], days: [weekday], hours: ["00:00-14:00", "19:00-24:00"]}
      - {seasons: [all], days: [weekend, holiday], hours: "00:00-24:00"}
versions:
  - effective: 2024-01-01
    charges:
      - {type: customer, amount: 10.0, per: month}
      - type: energy
        blocks:
          unit: kWh
          limits: [500, 1000]
          rates: {summer: [0.10, 0.20, 0.30], winter: [0.10, 0.15, 0.20]}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
