"""Designs that are not a single regression; importing this package registers their kinds.

Each module registers its kinds with ``fairness_audit.hypotheses.register_analysis``.
"""
