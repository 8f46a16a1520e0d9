#!/bin/bash
# interleaved: base cycle, floor, new cycle, floor (year, then month); one round per exclusive lock
PY=/work/main/.venv/bin/python
FLOOR="$(cd /work/wt/cyplan && $PY -c 'from benchmarks.floors import ZARR_READ; print(ZARR_READ)')"
Y=/work/main/data/bench/cube-10000.zarr
M=/work/main/data/bench/scale/cube-100000-2025-10_2025-11.zarr
t() { /usr/bin/time -f "%e s %U user %S sys %M KB" "$@" 2>&1 >/dev/null | tail -1; }
OUT=/tmp/cyplan/rounds; mkdir -p $OUT
round() {
  if (( $1 % 2 )); then ORDER="cyplan-base cyplan"; else ORDER="cyplan cyplan-base"; fi
  echo "round $1 $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  for w in $ORDER; do
    rm -rf $OUT/y$w; echo -n " year $w: "; (cd /work/wt/$w && PYTHONPATH=$PWD t $PY -m workbench.cli cycle --cube $Y --out $OUT/y$w --fresh --quiet)
    echo -n " year floor: "; (cd /work/wt/cyplan && t $PY -c "$FLOOR" $Y 2 delivered_kwh,received_kwh,quality)
  done
  for w in $ORDER; do
    rm -rf $OUT/m$w; echo -n " month $w: "; (cd /work/wt/$w && PYTHONPATH=$PWD t $PY -m workbench.cli cycle --cube $M --period 2025-11 --out $OUT/m$w --fresh --quiet)
    echo -n " month floor: "; (cd /work/wt/cyplan && t $PY -c "$FLOOR" $M 2 delivered_kwh,received_kwh,quality)
  done
}
export -f round t; export PY FLOOR Y M OUT
for r in $(seq ${1:-1} ${2:-3}); do flock -x /tmp/bench.lock bash -c "round $r"; sleep 5; done
