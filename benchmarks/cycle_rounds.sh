#!/bin/bash
# Interleaved rounds (BENCHMARKS.md, issue 13 fourth stop): workbench cycle on the 10k x year cube, the Zarr-read
# floor with glibc's default malloc (GLIBC_TUNABLES set, so keep_freed_memory steps aside), and the floor as
# benchmarks.floors.ZARR_READ runs it (the cycle's malloc settings); then the same for the 100k x month cube.
# usage: bash benchmarks/cycle_rounds.sh (from anywhere; needs data/bench/cube-10000.zarr and the 100k scale cube);
# writes only into a new folder of its own (mktemp -d), removing there the run folders it made before each run
cd "$(dirname "$0")/.."
PY=.venv/bin/python
FLOOR="$($PY -c 'from benchmarks.floors import ZARR_READ; print(ZARR_READ)')"
Y=data/bench/cube-10000.zarr
M=data/bench/scale/cube-100000-2025-10_2025-11.zarr
PLAIN="GLIBC_TUNABLES="
t() { /usr/bin/time -f "%e s %R minor-faults %S sys %M KB" "$@" 2>&1 >/dev/null | tail -1; }
OUT="$(mktemp -d /tmp/cycle-rounds.XXXXXX)"; echo "outputs in $OUT"
for r in 1 2 3; do
  echo "round $r load $(cut -d' ' -f1 /proc/loadavg)"
  rm -rf $OUT/oy; echo -n " year cycle: "; PYTHONPATH=$PWD t $PY -m workbench.cli cycle --cube $Y --out $OUT/oy --fresh --quiet
  echo -n " year floor (default malloc): "; t env $PLAIN $PY -c "$FLOOR" $Y 2 delivered_kwh,received_kwh,quality
  echo -n " year floor (ZARR_READ): "; t $PY -c "$FLOOR" $Y 2 delivered_kwh,received_kwh,quality
  rm -rf $OUT/om; echo -n " month cycle: "; PYTHONPATH=$PWD t $PY -m workbench.cli cycle --cube $M --period 2025-11 --out $OUT/om --fresh --quiet
  echo -n " month floor (default malloc): "; t env $PLAIN $PY -c "$FLOOR" $M 2 delivered_kwh,received_kwh,quality
  echo -n " month floor (ZARR_READ): "; t $PY -c "$FLOOR" $M 2 delivered_kwh,received_kwh,quality
done
