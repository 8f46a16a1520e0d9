"""Make the README's figure from the sample utility: `python docs/make_figures.py` (after `make demo`)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from workbench.ami.cube import open_cube  # noqa: E402

cube = open_cube("data/sample/cube.zarr")
bills = pd.read_parquet("reports/demo/bills.parquet")
sample = cube.isel(meter=slice(0, 600))
kw = sample["delivered_kwh"].load() * 4
local = pd.DatetimeIndex(cube["time"].values).tz_localize("UTC").tz_convert(cube.attrs["timezone"])
frame = pd.DataFrame(kw.values.T, index=local, columns=sample["customer_class"].values).T.groupby(level=0).mean().T
weekday = frame[frame.index.day_of_week < 5]

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for month, style in ((1, "--"), (7, "-")):
    part = weekday[weekday.index.month == month]
    shape = part.groupby(part.index.hour).mean()
    for cls, color in (("RES", "tab:blue"), ("SGS", "tab:orange"), ("LGS", "tab:red")):
        if cls in shape:
            axes[0].plot(shape.index, shape[cls], style, color=color,
                         label=f"{cls} {'Jan' if month == 1 else 'Jul'}")
axes[0].set_yscale("log")
axes[0].set_xlabel("local hour (weekdays)")
axes[0].set_ylabel("average kW per meter")
axes[0].set_title("Load shapes by class")
axes[0].legend(fontsize=7, ncol=3)
res = bills[bills.rate_code.str.startswith("RES")]
for code in sorted(res.rate_code.unique()):
    axes[1].hist(res[res.rate_code == code].total, bins=60, range=(0, 400), alpha=0.5, label=code)
axes[1].set_xlabel("monthly bill [$]")
axes[1].set_ylabel("bills")
axes[1].set_title("Residential bill distribution (sample utility, 2025)")
axes[1].legend(fontsize=8)
fig.tight_layout()
Path("docs/img").mkdir(parents=True, exist_ok=True)
fig.savefig("docs/img/tour.png", dpi=90)
print("wrote docs/img/tour.png")
