#!/usr/bin/env sh
# Judge consistency ("refugee roulette") on the two published TRAC tables, each on its own.
# Usage: examples/run_judges.sh [OUTDIR]   (default out/judges); needs fairness-audit on PATH
# (e.g. `make demo` once, then `. .venv/bin/activate`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-out/judges}
fairness-audit judges "$here/data/trac_judge_asylum_fy2012_2017.csv" --out "$out/fy2012_2017"
fairness-audit judges "$here/data/trac_style_judge_grant_rates_recent.json" --out "$out/recent"
echo "summaries: $out/fy2012_2017/summary.md and $out/recent/summary.md"
