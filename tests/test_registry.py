"""The meter registry: loading, defaults, validation errors that name file/row/field, round trips."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from workbench.ami.registry import MeterRegistry, load_registry, registry_from_cube, write_registry_csv
from workbench.ami.registry_meter import Meter, RegistryError
from workbench.errors import WorkbenchError

HEADER = ("meter_id,service_point,account,customer_class,rate_code,cycle,nem_program,channels,unit,ct_ratio,"
          "pt_ratio,multiplier_applied,install_date,removal_date,timezone")


def _csv(tmp_path, *rows, header=HEADER, name="meters.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_defaults_and_exchange(tmp_path):
    path = _csv(
        tmp_path,
        "M1,,,res,RES-FLAT,,,,,,,,,,",
        "OLD,SP7,A7,LGS,LGS-TOU,3,,,Wh,200,1,no,,2025-03-14,America/Chicago",
        "NEW,SP7,A7,LGS,LGS-TOU,3,,,kWh,400,2,yes,2025-03-14,,America/Chicago",
        "S1,,,RES,RES-TOU,,NEM2,,,,,,,,",
    )
    reg = load_registry(path)
    assert len(reg) == 4 and reg.service_points() == ["M1", "SP7", "S1"]
    m1 = reg["M1"]
    # defaults: service point = meter id, account = service point, class upper-cased, cycle 1, delivered only
    assert (m1.service_point, m1.account, m1.customer_class, m1.cycle) == ("M1", "M1", "RES", 1)
    assert m1.channels == ("delivered",) and m1.unit == "kWh" and m1.multiplier == 1.0
    assert m1.multiplier_applied is False and m1.install is None and m1.removal is None
    assert reg["S1"].channels == ("delivered", "received")  # a net-metered meter records both by default
    old, new = reg.meters_of("SP7")
    assert (old.meter_id, new.meter_id) == ("OLD", "NEW")
    assert old.multiplier == 200 and new.multiplier == 800 and new.multiplier_applied is True
    assert old.unit == "Wh" and old.removal == dt.datetime(2025, 3, 14) == new.install
    # local midnight 2025-03-14 in Chicago (CDT since 9 March, UTC-5) is 05:00 UTC
    lo, hi = new.window_utc("America/New_York")
    assert lo == np.datetime64("2025-03-14T05:00", "us") and hi is None
    assert old.window_utc("UTC")[1] == lo


def test_yaml_equals_csv(tmp_path):
    csv_path = _csv(tmp_path, "M1,SP1,A1,SGS,GS-TOU-DEMAND,2,,delivered+received,,40,80,yes,2024-06-01T10:30,,")
    yaml_path = tmp_path / "meters.yaml"
    yaml_path.write_text(
        "meters:\n"
        "  - {meter_id: M1, service_point: SP1, account: A1, customer_class: SGS, rate_code: GS-TOU-DEMAND,\n"
        "     cycle: 2, channels: delivered+received, ct_ratio: 40, pt_ratio: 80, multiplier_applied: yes,\n"
        "     install_date: '2024-06-01T10:30'}\n"
    )
    a, b = load_registry(csv_path)["M1"], load_registry(yaml_path)["M1"]
    assert a.install == dt.datetime(2024, 6, 1, 10, 30)
    assert {**a.__dict__, "row": 0} == {**b.__dict__, "row": 0}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["M1,,,XYZ,RES-FLAT,,,,,,,,,,"], ["line 2", "customer_class", "'XYZ'"]),
        (["M1,,,RES,RES-FLAT,,,,,0,,,,,"], ["line 2", "ct_ratio", "positive"]),
        (["M1,,,RES,RES-FLAT,,,,,,-2,,,,"], ["line 2", "pt_ratio"]),
        (["M1,,,RES,RES-FLAT,,,,,abc,,,,,"], ["ct_ratio", "'abc' is not a number"]),
        (["M1,,,RES,RES-FLAT,,,,,,,,2025-03-14,2025-03-01,"], ["line 2", "removal_date", "not after"]),
        (["M1,,,RES,RES-FLAT,,,,,,,,,,", "M1,,,RES,RES-FLAT,,,,,,,,,,"], ["row 3", "meter_id", "twice", "row 2"]),
        (["A,SP,,RES,RES-FLAT,,,,,,,,2025-01-01,2025-03-20,", "B,SP,,RES,RES-FLAT,,,,,,,,2025-03-14,,"],
         ["rows 2 and 3", "'A'", "'B'", "'SP'", "same time"]),
        (["A,SP,,RES,RES-FLAT,,,,,,,,,,", "B,SP,,RES,RES-FLAT,,,,,,,,,,"], ["'SP'", "same time"]),
        (["A,SP,X1,RES,RES-FLAT,,,,,,,,,2025-03-14,", "B,SP,X2,RES,RES-FLAT,,,,,,,,2025-03-14,,"],
         ["row 3", "account", "'X2'", "row 2"]),
        (["M1,,,RES,RES-FLAT,,,,,,,maybe,,,"], ["multiplier_applied", "yes or no"]),
        (["M1,,,RES,RES-FLAT,,,,,,,,,,Mars/Base"], ["timezone", "Mars/Base"]),
        (["M1,,,RES,RES-FLAT,,,,therms,,,,,,"], ["unit", "therms"]),
        (["M1,,,RES,RES-FLAT,,,net,,,,,,,"], ["channels", "'net'"]),
        (["M1,,,RES,RES-FLAT,0,,,,,,,,,"], ["cycle", "'0'"]),
        (["M1,,,RES,RES-FLAT,,,,,,,,2025-03-14T00:00+02:00,,"], ["install_date", "UTC offset"]),
        (["M1,,,RES,RES-FLAT,,,,,,,,14/03/2025,,"], ["install_date", "'14/03/2025'"]),
        (["M1,,,RES,,,,,,,,,,,"], ["rate_code", "empty"]),
        (["M1,,,RES"], ["line 2", "4 fields"]),
    ],
)
def test_validation_errors_name_file_row_and_field(tmp_path, rows, expected):
    path = _csv(tmp_path, *rows)
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    msg = str(err.value)
    assert str(path) in msg
    for part in expected:
        assert part in msg, msg
    assert isinstance(err.value, WorkbenchError)


def test_columns_checked(tmp_path):
    with pytest.raises(RegistryError, match=r"unknown column\(s\) \['ct_ration'\]"):
        load_registry(_csv(tmp_path, "M1,RES,RES-FLAT,2", header="meter_id,customer_class,rate_code,ct_ration"))
    with pytest.raises(RegistryError, match=r"required column\(s\) \['rate_code'\] missing"):
        load_registry(_csv(tmp_path, "M1,RES", header="meter_id,customer_class", name="b.csv"))
    with pytest.raises(RegistryError, match="not found"):
        load_registry(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("meter_id,customer_class,rate_code\n")
    with pytest.raises(RegistryError, match="no meters"):
        load_registry(empty)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("- meter_id: M1\n  customer_class: RES\n  rate_code: RES-FLAT\n- just a string\n")
    with pytest.raises(RegistryError, match="entry 2"):
        load_registry(bad_yaml)


def test_write_and_load_round_trip(tmp_path):
    meters = [
        Meter("M1", "SP1", "A1", "LGS", "LGS-TOU", cycle=4, channels=("delivered", "received"), unit="Wh",
              ct_ratio=200, pt_ratio=1.5, multiplier_applied=True, install=dt.datetime(2025, 1, 1),
              removal=dt.datetime(2025, 6, 1, 12, 30), timezone="America/Denver", row=2),
        Meter("M2", "SP1", "A1", "LGS", "LGS-TOU", cycle=4, install=dt.datetime(2025, 6, 1, 12, 30), row=3),
    ]
    reg = MeterRegistry(meters, "test")
    path = write_registry_csv(reg, tmp_path / "out" / "meters.csv")
    back = load_registry(path)
    assert [m.__dict__ | {"row": 0} for m in back] == [m.__dict__ | {"row": 0} for m in meters]
    assert "2025-06-01T12:30:00" in path.read_text() and ",2025-01-01," in path.read_text()


def test_registry_from_cube_one_meter_per_row():
    import xarray as xr

    ds = xr.Dataset(
        coords={
            "meter": ["M1", "M2"], "account": ("meter", ["A1", "A2"]), "customer_class": ("meter", ["RES", "LGS"]),
            "rate_code": ("meter", ["RES-TOU", "LGS-TOU"]), "multiplier": ("meter", np.array([1, 3200], "f4")),
            "cycle": ("meter", np.array([1, 7], "i2")), "nem_program": ("meter", ["NEM2", ""]),
        },
        attrs={"timezone": "America/New_York"},
    )
    reg = registry_from_cube(ds)
    assert reg.meter_ids == ["M1", "M2"] and reg.service_points() == ["M1", "M2"]
    m2 = reg["M2"]
    assert (m2.account, m2.customer_class, m2.cycle, m2.multiplier, m2.multiplier_applied) == ("A2", "LGS", 7, 3200,
                                                                                             True)
    assert m2.channels == ("delivered", "received") and m2.install is None and m2.removal is None
    assert reg.with_multiplier_applied(False)["M2"].multiplier_applied is False
    with pytest.raises(KeyError, match="M3"):
        reg["M3"]


# ------------------------------------------------------------------------------------- the pydantic row model

GOOD_ROWS = [
    "M1,,,res,RES-FLAT,,,,,,,,,,",
    "OLD,SP7,A7,LGS,LGS-TOU,3,,,Wh,200,1,no,,2025-03-14,America/Chicago",
    "NEW,SP7,A7,LGS,LGS-TOU,3,,received;delivered,MWH,400,2,yes,2025-03-14T06:30,,America/Chicago",
    "S1,,,RES,RES-TOU,2.0,NEM2,,,,,,,,",
]


def test_the_row_model_and_the_bulk_load_agree(tmp_path):
    """Each row through ``MeterRow.model_validate`` gives the meter the column-wise load gives.

    Catches a bulk path that drifts from the model: e.g. a default applied to the wrong column, or the
    class not upper-cased, or ``MWH`` kept as typed."""
    from workbench.ami.registry_model import MeterRow

    loaded = list(load_registry(_csv(tmp_path, *GOOD_ROWS)))
    names = HEADER.split(",")
    one_by_one = [MeterRow.model_validate(dict(zip(names, row.split(","), strict=True))).to_meter(line)
                  for line, row in enumerate(GOOD_ROWS, start=2)]
    assert loaded == one_by_one
    # and both are what the file says, worked out by hand
    assert loaded[2].channels == ("delivered", "received") and loaded[2].unit == "MWh"
    assert loaded[2].multiplier == 800 and loaded[2].install == dt.datetime(2025, 3, 14, 6, 30)
    assert loaded[3].cycle == 2 and loaded[3].channels == ("delivered", "received")


@pytest.mark.parametrize("row", ["M1,,,XYZ,RES-FLAT,,,,,,,,,,", "M1,,,RES,RES-FLAT,,,,,0,,,,,",
                                 "M1,,,RES,RES-FLAT,,,,,,,,2025-03-14,2025-03-01,", ",,,RES,RES-FLAT,,,,,,,,,,",
                                 "M1,,,,RES-FLAT,,,,,,,,,,", "M1,,,RES,RES-FLAT,,,,,,,,20250314T00:00+01:00,,"])
def test_the_row_model_refuses_what_the_load_refuses(tmp_path, row):
    from pydantic import ValidationError

    from workbench.ami.registry_model import MeterRow

    with pytest.raises(RegistryError):
        load_registry(_csv(tmp_path, row))
    with pytest.raises(ValidationError):
        MeterRow.model_validate(dict(zip(HEADER.split(","), row.split(","), strict=True)))


def test_the_first_bad_row_in_the_file_is_named(tmp_path):
    """Two bad columns on different rows: the error names the earlier row (line 3), not the earlier column.

    Catches a bulk check that reports the first failing column's row (customer_class comes before ct_ratio)."""
    path = _csv(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,,", "M2,,,RES,RES-FLAT,,,,,-1,,,,,",
                "M3,,,XYZ,RES-FLAT,,,,,,,,,,")
    with pytest.raises(RegistryError, match=r"line 3: ct_ratio: -1 must be a positive number"):
        load_registry(path)


def test_blank_class_column_twice_and_digits_as_dates_are_refused(tmp_path):
    with pytest.raises(RegistryError, match=r"line 2: customer_class: '' is not one of"):
        load_registry(_csv(tmp_path, "M1,,,,RES-FLAT,,,,,,,,,,"))
    with pytest.raises(RegistryError, match=r"column\(s\) \['ct_ratio'\] given twice"):
        load_registry(_csv(tmp_path, "M1,RES,RES-FLAT,2,3", header="meter_id,customer_class,rate_code,ct_ratio,"
                                                                   "ct_ratio", name="twice.csv"))
    # a bare number is a basic-format ISO date (2025-03-14), never read as a Unix timestamp (1970)
    reg = load_registry(_csv(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,20250314,,", name="digits.csv"))
    assert reg["M1"].install == dt.datetime(2025, 3, 14)


def test_yaml_values_of_other_types(tmp_path):
    """YAML gives numbers, booleans and dates, not text: each means what the CSV's text would."""
    path = tmp_path / "meters.yaml"
    path.write_text("meters:\n- {meter_id: 101, customer_class: sgs, rate_code: SGS-TOU, cycle: 4, ct_ratio: 80,\n"
                    "   multiplier_applied: true, install_date: 2025-03-14, channels: delivered+received}\n"
                    "- {meter_id: 102, customer_class: RES, rate_code: RES-TOU, removal_date: 2025-01-01 06:00:00}\n")
    a, b = load_registry(path)
    assert (a.meter_id, a.customer_class, a.cycle, a.ct_ratio, a.multiplier_applied) == ("101", "SGS", 4, 80, True)
    assert a.install == dt.datetime(2025, 3, 14) and a.channels == ("delivered", "received") and a.row == 1
    assert b.removal == dt.datetime(2025, 1, 1, 6) and b.row == 2
    path.write_text("- {meter_id: 1, customer_class: RES, rate_code: R, install_date: 2025-01-01}\n"
                    "- {meter_id: 2, customer_class: RES, rate_code: R, ct_ratio: .nan}\n")
    with pytest.raises(RegistryError, match=r"meters.yaml: entry 2: ct_ratio: nan must be a positive number"):
        load_registry(path)
