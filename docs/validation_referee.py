"""Write the referee's-quantities tables of docs/validation.md from the committed replicates.

The rows of every replicate are committed (``docs/validation_referee.csv.gz``: the designs
``null`` and ``planted`` audited with ``configs/validation/referee.yaml``), and the tables
between ``<!-- validation_referee:begin -->`` and ``<!-- validation_referee:end -->`` are
written from them by :func:`fairness_audit.validation.referee_summary`, never by hand::

    python docs/validation_referee.py            # rewrite the block
    python docs/validation_referee.py --check    # compare only; exit 1 on any difference

tests/test_validation_plans.py checks that the block is what the committed rows give.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fairness_audit.validation import read_rows, referee_markdown, referee_summary

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import marked_block  # noqa: E402

PAGE = HERE / "validation.md"
RUN = HERE / "validation_referee.csv.gz"
BLOCK = "validation_referee"


def render() -> str:
    rows = read_rows([RUN])
    designs = sorted({r["design"] for r in rows})
    counts = ", ".join(f"{d}: R = {len({r['replicate'] for r in rows if r['design'] == d})}"
                       for d in designs)
    return "\n".join([f"Replicates: {counts}.", ""] + referee_markdown(referee_summary(rows))).rstrip()


def write(check: bool = False) -> bool:
    """Write the block; with ``check``, only say whether it is current."""
    return marked_block.update(PAGE, {BLOCK: render() + "\n"}, check=check)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    ok = write(check=parser.parse_args().check)
    sys.exit(0 if ok else 1)
