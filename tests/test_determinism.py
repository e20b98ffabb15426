"""Two audits of the same inputs in two processes give identical outputs, the creation time
apart, which SOURCE_DATE_EPOCH fixes.

The second audit runs in a fresh process with another string-hash seed and another working
folder, and the same BLAS thread settings (another number of BLAS threads changes last digits;
docs/models.md). Before the fixed effects were kept in the formula's order
(models/fe_order.py), thousands of numbers of results.json differed between two such runs in
their last digits. The table (30 judges, about 130,000 decisions) is large enough for the
multi-threaded paths: OpenBLAS products and pyfixest's parallel demeaning of several columns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HASH_SEED = "4242"


def _hash_in_child(seed: str) -> int:
    out = subprocess.run([sys.executable, "-c", "print(hash('fairness_audit'))"], check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
    return int(out.stdout)


def _without_created(path: Path) -> dict:
    results = json.loads(path.read_text())
    results["provenance"].pop("created")
    return results


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_process_writes_identical_outputs(planted_table, planted_results, tmp_path):
    results, first = planted_results
    assert _hash_in_child(HASH_SEED) != hash("fairness_audit"), "the two processes must hash differently"
    # a sibling of the first output folder, so the input's path relative to it is the same
    second = tmp_path / "out"
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    subprocess.run([sys.executable, "-m", "fairness_audit", "audit", str(planted_table), "--out",
                    str(second)], check=True, cwd=workdir, capture_output=True,
                   env={**os.environ, "PYTHONHASHSEED": HASH_SEED, "SOURCE_DATE_EPOCH": "1700000000"})

    assert json.loads((second / "results.json").read_text())["provenance"]["created"] == \
        "2023-11-14T22:13:20Z"
    assert _without_created(second / "results.json") == _without_created(first / "results.json")
    # byte for byte, apart from the creation time
    created = json.loads((first / "results.json").read_text())["provenance"]["created"]
    again = json.loads((second / "results.json").read_text())["provenance"]["created"]
    assert (second / "results.json").read_text().replace(again, created) == \
        (first / "results.json").read_text()
    for name in ("report.md", "report.html"):
        assert (second / name).read_text().replace(again, created) == (first / name).read_text()
    for folder in ("tables", "figures"):
        assert _files(second / folder) == _files(first / folder), folder
    inputs = json.loads((second / "results.json").read_text())["provenance"]["inputs"]
    assert all(not Path(i["path"]).is_absolute() for i in inputs)
