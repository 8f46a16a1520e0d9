"""Proposed tariffs: an edited copy of the tariff book, as YAML data, that round-trips to files.

A :class:`Proposal` holds each tariff's YAML content (the mapping the loader validates); edits return a new
proposal and never touch the files. The edits name a charge by its ``description`` (``"Energy"``,
``"Customer charge"``) and change the version in force at the end of the test year (default: the last):

- :meth:`Proposal.scale`: multiply every price of a charge (its rates, block rates, amount or rider rate);
- :meth:`Proposal.set_price`: set every price of a charge to one value (one energy price for all periods and
  blocks), or only the price at a ``where`` path (``("summer", "on_peak")``, ``("winter", 2)``);
- :meth:`Proposal.add_block`: a new last block (its lower limit and its rate) on a block charge;
- :meth:`Proposal.set_customer_charge`: the customer charge's amount.

:meth:`Proposal.round_prices` rounds a charge's prices to a number of decimals (half up), as a tariff is filed.
:meth:`Proposal.write` writes the whole book (programs and price files copied from the present book) so that
``workbench cycle --tariffs DIR`` bills it; a tariff the edits left as it was is copied byte for byte, and an
edited one is its file with only the changed values rewritten (``ruamel.yaml`` round trip: its comments, order
and flow style kept; see ``proposal_yaml``). :meth:`Proposal.compile` validates and compiles
it in memory.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from workbench.design.proposal_yaml import edited_text
from workbench.errors import TariffError, WorkbenchError
from workbench.tariffs import read_yaml, tariff_from_spec
from workbench.tariffs.checks import read_tariff_text

#: where each charge type keeps its prices [$ per unit]
PRICE_FIELDS = {"customer": ("amount",), "energy": ("rates", "blocks.rates"), "demand": ("rates", "blocks.rates"),
                "rider": ("rate",), "rtp": ("adder",), "minimum": ("amount",)}


def _map_numbers(value, fn):
    if isinstance(value, dict):
        return {k: _map_numbers(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_numbers(v, fn) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fn(float(value))
    return value


def _get(charge: dict, dotted: str):
    node = charge
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _put(charge: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    node = charge
    for part in parents:
        node = node[part]
    node[last] = value


class Proposal:
    """Tariffs as YAML data by rate code, copied from a tariff book folder and edited in code."""

    def __init__(self, tariffs: dict[str, dict], source_dir, name: str = "proposed", version: int = -1,
                 paths: dict[str, Path] | None = None):
        self.tariffs = tariffs
        self.source_dir = Path(source_dir)
        self.name = name
        self.version = version
        self.paths = dict(paths or {})  # the file each tariff was read from (unedited ones are copied as they are)

    @classmethod
    def from_book(cls, tariffs_dir, name: str = "proposed") -> Proposal:
        """Every ``*.yaml`` of the tariff book folder, as data (the present rates, ready to edit)."""
        tariffs, paths = {}, {}
        if not Path(tariffs_dir).is_dir():
            raise TariffError(f"{tariffs_dir}: {'not a folder' if Path(tariffs_dir).exists() else 'no such folder'}; "
                              "expected the tariff book folder (one *.yaml tariff per rate code)")
        for path in sorted(Path(tariffs_dir).glob("*.yaml")):
            data = read_yaml(read_tariff_text(path))
            if not isinstance(data, dict) or "code" not in data:
                raise TariffError(f"{path}: not a tariff (a mapping with a code)")
            if isinstance(data.get("versions"), list):  # a YAML alias shared by two versions is unshared here:
                data["versions"] = [copy.deepcopy(v) for v in data["versions"]]  # editing one never edits another
            tariffs[str(data["code"])] = data
            paths[str(data["code"])] = path
        if not tariffs:
            raise TariffError(f"{tariffs_dir}: no *.yaml tariffs in the tariff book folder")
        return cls(tariffs, tariffs_dir, name, paths=paths)

    def copy(self, name: str | None = None) -> Proposal:
        return Proposal(copy.deepcopy(self.tariffs), self.source_dir, name or self.name, self.version, self.paths)

    # -- edits ----------------------------------------------------------------------------------------------
    def charge(self, rate_code: str, component: str) -> dict:
        """The charge ``component`` (its description) of the edited version of ``rate_code`` (a live mapping)."""
        if rate_code not in self.tariffs:
            raise WorkbenchError(f"rate code {rate_code!r} is not in the proposal; rate codes: {sorted(self.tariffs)}")
        versions = self.tariffs[rate_code]["versions"]
        charges = versions[self.version]["charges"]
        found = [c for c in charges if _description(c) == component]
        if len(found) != 1:
            names = [_description(c) for c in charges]
            raise WorkbenchError(f"{rate_code}: {'no' if not found else 'more than one'} charge described "
                                 f"{component!r}; charges: {names}")
        return found[0]

    def scale(self, rate_code: str, component: str, factor: float) -> Proposal:
        """Every price of the charge × ``factor``."""
        return self._edit(rate_code, component, lambda x: x * factor)

    def set_price(self, rate_code: str, component: str, value: float, where: tuple = ()) -> Proposal:
        """Every price of the charge (or the one at ``where`` in its rates mapping/list) set to ``value``."""
        if not where:
            return self._edit(rate_code, component, lambda x: value)
        out = self.copy()
        charge = out.charge(rate_code, component)
        field = next(f for f in PRICE_FIELDS[charge["type"]] if _get(charge, f) is not None)
        node = _get(charge, field)
        for key in where[:-1]:
            node = node[key]
        if not isinstance(node, (dict, list)) or (isinstance(node, dict) and where[-1] not in node):
            raise WorkbenchError(f"{rate_code} {component}: no price at {list(where)} in its {field}")
        node[where[-1]] = float(value)
        return out

    def set_customer_charge(self, rate_code: str, amount: float, component: str | None = None) -> Proposal:
        """The customer charge's amount [$ per bill, day or month, as the tariff says]."""
        out = self.copy()
        charges = out.tariffs[rate_code]["versions"][out.version]["charges"]
        names = [_description(c) for c in charges if c.get("type") == "customer"]
        if component is None and len(names) != 1:
            raise WorkbenchError(f"{rate_code}: {len(names)} customer charges ({names}); name the one to change")
        out.charge(rate_code, component or names[0])["amount"] = float(amount)
        return out

    def add_block(self, rate_code: str, component: str, limit: float, rate: float) -> Proposal:
        """Split the last block at ``limit`` (its unit) and price the new last block at ``rate`` [$ per unit]."""
        out = self.copy()
        charge = out.charge(rate_code, component)
        blocks = charge.get("blocks")
        if blocks is None:
            raise WorkbenchError(f"{rate_code} {component}: not a block charge (it has no blocks)")
        blocks["limits"] = _append_lists(blocks["limits"], float(limit))
        blocks["rates"] = _append_lists(blocks["rates"], float(rate))
        return out

    def round_prices(self, rate_code: str, component: str, decimals: int) -> Proposal:
        """Every price of the charge rounded to ``decimals`` decimals, half up (0.123455 -> 0.12346 at 5)."""
        quantum = Decimal(1).scaleb(-int(decimals))
        return self._edit(rate_code, component,
                          lambda x: float(Decimal(repr(x)).quantize(quantum, rounding=ROUND_HALF_UP)))

    def _edit(self, rate_code, component, fn) -> Proposal:
        out = self.copy()
        charge = out.charge(rate_code, component)
        fields = [f for f in PRICE_FIELDS.get(charge["type"], ()) if _get(charge, f) is not None]
        if not fields:
            raise WorkbenchError(f"{rate_code} {component}: a {charge['type']} charge has no price to change")
        for field in fields:
            _put(charge, field, _map_numbers(_get(charge, field), fn))
        return out

    # -- out ------------------------------------------------------------------------------------------------
    def compile(self, codes=None) -> dict:
        """The compiled tariffs (validated as a tariff file is), by rate code."""
        return {code: tariff_from_spec(copy.deepcopy(data), f"{self.name}:{code}", base_dir=self.source_dir,
                                       warnings=False)
                for code, data in self.tariffs.items() if codes is None or code in codes}

    def to_yaml(self, rate_code: str) -> str:
        """The tariff's YAML: its file's text with the edited values changed (comments kept), or, for a tariff
        with no file, the data written plainly."""
        path = self.paths.get(rate_code)
        data = _plain(self.tariffs[rate_code])
        text = edited_text(read_tariff_text(path) if path is not None else None, data)
        if path is not None and read_yaml(text) != self.tariffs[rate_code]:  # e.g. an edited value under a YAML
            text = edited_text(None, data)  # anchor that another place aliases: written plainly, never wrong
        return text

    def write(self, folder) -> Path:
        """Write the book: a copy of the present book's folder (programs, price files) with these tariffs."""
        folder = Path(folder)
        if folder.exists() and any(folder.iterdir()):
            raise WorkbenchError(f"{folder}: not empty; name a new folder for the proposed tariff book")
        shutil.copytree(self.source_dir, folder, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.yaml", "*.yml", ".*"))
        for sub in ("programs",):  # program files are YAML too: copy them as they are
            if (self.source_dir / sub).is_dir():
                shutil.copytree(self.source_dir / sub, folder / sub, dirs_exist_ok=True)
        for code in self.tariffs:
            if code in self.paths and self.unedited(code):
                shutil.copy2(self.paths[code], folder / self.paths[code].name)
                continue
            (folder / f"{code}.yaml").write_text(f"# {self.name}: prices edited by workbench.design\n"
                                                 + self.to_yaml(code), encoding="utf-8")
        return folder

    def unedited(self, rate_code: str) -> bool:
        """Whether ``rate_code`` is still what its file says (no edit changed it)."""
        path = self.paths.get(rate_code)
        return path is not None and read_yaml(read_tariff_text(path)) == self.tariffs[rate_code]


def _description(charge: dict) -> str:
    defaults = {"customer": "Customer charge", "energy": "Energy", "demand": "Demand", "rtp": "Energy at real-time "
                "prices", "minimum": "Minimum bill adjustment"}
    return str(charge.get("description", defaults.get(charge.get("type"), "")))


def _append_lists(value, item):
    if isinstance(value, list):
        if value and all(isinstance(v, (int, float)) for v in value):
            return [*value, item]
        return [_append_lists(v, item) for v in value]
    if isinstance(value, dict):
        return {k: _append_lists(v, item) for k, v in value.items()}
    raise WorkbenchError(f"block limits/rates of unexpected form {value!r}")


def _plain(value):
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, int) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
