"""fairness_audit: statistical audits of immigration-court decisions.

The pipeline reads in one direction: ingest (or simulate) -> decisions table -> features ->
hypotheses -> results.json -> report.
"""

__version__ = "0.1.0"
