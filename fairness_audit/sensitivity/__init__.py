"""Sensitivity analyses of the audit's estimates: how far an assumption may fail before a finding
changes (one module per kind of sensitivity item in results.json)."""
