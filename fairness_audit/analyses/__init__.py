"""Designs that are not a single regression; importing this package registers their kinds.

Each module registers its kinds with ``fairness_audit.hypotheses.register_analysis``.
"""

from fairness_audit.analyses import judges, quota, timing  # noqa: F401
