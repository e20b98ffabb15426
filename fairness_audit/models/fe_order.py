"""Fixed effects swept in the order the formula writes them, so that reruns are byte-identical.

Why: pyfixest (0.60, ``estimation/formula/utils.py::_encode_fixed_effects``) collects a
formula's fixed effects in a Python ``set``, whose order follows the string-hash seed that
differs between processes (PYTHONHASHSEED). The alternating projections that absorb the fixed
effects stop at a tolerance, and the point where they stop depends on the order in which the
fixed effects are swept: the same fit in two processes then differs in its last digits (about
1e-11 relative: standard errors, and coefficients where several fixed effects overlap). The
audit's results must not depend on the process, so the encoded formula's terms are put back in
the order of the formula before pyfixest reads it.

The wrapper changes nothing else: pyfixest's own function still builds the interacted columns;
only the order of the returned terms changes. If a pyfixest version returns a formula of
another shape, it is left as pyfixest wrote it (the determinism test then fails loudly).
"""

from __future__ import annotations

import functools
import re

_SPLIT = re.compile(r"\s*\+\s*")
_SUFFIX = " - 1"


def _ordered(original):
    @functools.wraps(original)
    def encode(fixed_effects: str, data):
        formula = original(fixed_effects, data)
        wanted = [f"__fixed_effect__({fe.replace('^', '_')})"
                  for fe in dict.fromkeys(_SPLIT.split(fixed_effects))]
        if not formula.endswith(_SUFFIX):
            return formula
        terms = formula[: -len(_SUFFIX)].split(" + ")
        if sorted(terms) != sorted(wanted):
            return formula
        return " + ".join(wanted) + _SUFFIX

    encode.keeps_formula_order = True
    return encode


@functools.cache
def keep_fixed_effect_order() -> bool:
    """Install the order-keeping wrapper once; True if pyfixest has the function it wraps."""
    try:
        from pyfixest.estimation.formula import model_matrix
    except ImportError:  # another layout: nothing to wrap
        return False
    original = getattr(model_matrix, "_encode_fixed_effects", None)
    if original is None:
        return False
    if not getattr(original, "keeps_formula_order", False):
        model_matrix._encode_fixed_effects = _ordered(original)
    return True
