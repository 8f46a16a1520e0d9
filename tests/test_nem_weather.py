"""The NEM study's PV on the user's weather and site: hand-made EPW files, a TMY3 with another site, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hostile._cli import assert_refused, run_in_process
from workbench.design.solar import Weather, WeatherError, pv_kwh_per_kw, read_weather, tmy_path

EPW_HEADER = """\
LOCATION,Testville,NSW,AUS,hand-made,000000,{lat},{lon},{tz},20.0
DESIGN CONDITIONS,0
TYPICAL/EXTREME PERIODS,0
GROUND TEMPERATURES,0
HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0
COMMENTS 1,hand-made for the tests
COMMENTS 2,
DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31
"""


def write_epw(path, *, lat=-33.9, lon=151.2, tz=10.0, sunny_hour_ending=13, rows=8760):
    """An EPW whose only sunshine is the hour ending ``sunny_hour_ending`` (local standard time) of every day."""
    lines = [EPW_HEADER.format(lat=lat, lon=lon, tz=tz)]
    days_in = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    n = 0
    for month, days in enumerate(days_in, start=1):
        for day in range(1, days + 1):
            for hour in range(1, 25):
                if n == rows:
                    break
                sun = hour == sunny_hour_ending
                ghi, dni, dhi = (800, 700, 150) if sun else (0, 0, 0)
                # year,month,day,hour,minute,flags,dry bulb,dew point,rh,pressure,ext hor,ext dni,ir,ghi,dni,dhi,
                # gh illum,dn illum,dh illum,zenith lum,wind dir,wind speed, ... (35 fields)
                fields = [1999, month, day, hour, 0, "?", 25.0, 10.0, 50, 101325, 0, 0, 300, ghi, dni, dhi,
                          0, 0, 0, 0, 180, 2.0, 5, 5, 10, 77777, 9, 999999999, 10, 0.1, 0, 88, 0.2, 0, 0]
                lines.append(",".join(str(f) for f in fields) + "\n")
                n += 1
    path.write_text("".join(lines))
    return path


def utc_axis(n_days=365, step=15):
    return np.datetime64("2025-01-01T00:00") + np.arange(n_days * 1440 // step) * np.timedelta64(step, "m")


def test_epw_site_and_hours_come_from_the_file(tmp_path):
    path = write_epw(tmp_path / "sydney.epw")
    hourly, site = read_weather(Weather(str(path)))
    assert (site["latitude"], site["longitude"], site["TZ"]) == (-33.9, 151.2, 10.0)
    utc = utc_axis()
    pv = pv_kwh_per_kw(utc, 15, weather=Weather(str(path)))
    # sunshine only in 12:00-13:00 local standard time (UTC+10) = 02:00-03:00 UTC; the hourly values are
    # interpolated between hour midpoints, so PV may spread at most half an hour either side: 01:30-03:30 UTC
    minute = (utc - utc.astype("datetime64[D]")).astype(int)
    outside = (minute < 90) | (minute >= 210)
    assert pv[outside].max() == 0.0
    assert pv[(minute >= 120) & (minute < 180)].min() > 0
    # southern hemisphere: the December noon sun is higher than June's, so more PV from the same irradiance
    december, june = pv[-31 * 96:].sum(), pv[151 * 96: 181 * 96].sum()
    assert december > 1.2 * june


def test_latitude_override_equals_a_file_with_that_site(tmp_path):
    moved = write_epw(tmp_path / "a.epw", lat=40.0)
    here = write_epw(tmp_path / "b.epw", lat=-33.9)
    utc = utc_axis(30)
    np.testing.assert_allclose(pv_kwh_per_kw(utc, 15, weather=Weather(str(here), latitude=40.0)),
                               pv_kwh_per_kw(utc, 15, weather=Weather(str(moved))), rtol=1e-12, atol=1e-15)
    assert not np.allclose(pv_kwh_per_kw(utc, 15, weather=Weather(str(here))),
                           pv_kwh_per_kw(utc, 15, weather=Weather(str(moved))))


def test_a_user_tmy3_with_another_site_changes_the_pv(tmp_path):
    # pvlib's Greensboro TMY3 with its header moved to Anchorage (61.2 N, -149.9 E, UTC-9)
    lines = tmy_path().read_text(encoding="latin-1").splitlines(keepends=True)
    head = lines[0].split(",")
    head[3:7] = ["-9.0", "61.2", "-149.9", "40"]
    user = tmp_path / "anchorage.csv"
    user.write_text(",".join(head) + ("\n" if not head[-1].endswith("\n") else "") + "".join(lines[1:]),
                    encoding="latin-1")
    _, site = read_weather(Weather(str(user)))
    assert (site["latitude"], site["longitude"], site["TZ"]) == (61.2, -149.9, -9.0)
    utc = utc_axis()
    north, bundled = pv_kwh_per_kw(utc, 15, weather=Weather(str(user))), pv_kwh_per_kw(utc, 15)
    assert north.sum() < bundled.sum()  # the same irradiance on a panel tilted 25 degrees at 61 N
    hour_utc = (utc - utc.astype("datetime64[D]")).astype(int) // 60
    assert north[hour_utc == 21].sum() > bundled[hour_utc == 21].sum()  # noon in Alaska, 4 pm in North Carolina


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda p: p / "missing.epw", "no weather file here"),
    (lambda p: write_epw(p / "short.epw", rows=100), "expected 8760 hourly rows"),
    (lambda p: (p / "junk.csv").write_text("not,a,tmy\n") and p / "junk.csv", "not a readable TMY3 CSV"),
])
def test_a_bad_weather_file_is_one_line_naming_it(tmp_path, make, fragment):
    path = make(tmp_path)
    with pytest.raises(WeatherError, match=fragment) as caught:
        read_weather(Weather(str(path)))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_latitude_out_of_range_is_refused(tmp_path):
    with pytest.raises(WeatherError, match=r"latitude 95.0: expected degrees between -90 and 90"):
        read_weather(Weather(str(write_epw(tmp_path / "a.epw")), latitude=95.0))


def test_serve_nem_refuses_a_bad_weather_file_before_listening(tmp_path, capsys):
    run = run_in_process(["serve", "nem", "--cube", tmp_path / "cube.zarr", "--weather",
                          write_epw(tmp_path / "short.epw", rows=10)], capsys)
    assert_refused(run, "short.epw", "expected 8760 hourly rows")
    assert not (tmp_path / "cube.zarr").exists()


@pytest.mark.slow
def test_the_study_scans_with_the_users_weather(tmp_path):
    from workbench.design.nem_study import StudyData

    path = write_epw(tmp_path / "sydney.epw")
    utc = utc_axis()
    load = np.full((3, len(utc)), 0.25, np.float32)
    study = StudyData.from_arrays(utc, 15, load, None, ["RES"] * 3, timezone="America/New_York", sizes=(5.0,),
                                  weather=Weather(str(path)))
    assert study.weather.path == str(path)
    assert study.pv_kwh_per_kw_year == pytest.approx(pv_kwh_per_kw(utc, 15, weather=Weather(str(path))).sum())
