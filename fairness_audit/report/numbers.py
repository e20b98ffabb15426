"""Numbers that carry where they come from in results.json.

Why: every number a reader sees must be traceable to results.json, and a test must be able to
check each one without parsing prose. Before rendering, :func:`sourced` wraps every number of
results.json in a ``float`` or ``int`` subclass that remembers its JSON pointer (RFC 6901, e.g.
``/hypotheses/0/tests/1/estimate``). The formatters (:data:`FORMATTERS`) turn a number into
text; in an HTML template the filter of the same name writes the text inside
``<span data-src="POINTER" data-fmt="NAME">`` so that anyone can find the value and the
formatter that wrote it (``data-fmt="fmt:2"``: ``fmt`` with 2 significant digits).
:func:`check_html` recomputes every such span from results.json.

A number computed in a template (``a - b``) has no pointer and is written without a span: the
audit computes every number a report shows, and stores it in results.json, for that reason.

Example
-------
>>> r = sourced({"tests": [{"estimate": 0.5}]})
>>> r["tests"][0]["estimate"].src
'/tests/0/estimate'
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from jinja2 import Undefined
from markupsafe import Markup


class SourcedFloat(float):
    """A float of results.json that knows its JSON pointer (``src``)."""

    src: str

    def __new__(cls, value: float, src: str) -> SourcedFloat:
        obj = super().__new__(cls, value)
        obj.src = src
        return obj


class SourcedInt(int):
    """An int of results.json that knows its JSON pointer (``src``)."""

    src: str

    def __new__(cls, value: int, src: str) -> SourcedInt:
        obj = super().__new__(cls, value)
        obj.src = src
        return obj


def _escape_token(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _unescape_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def sourced(obj: Any, pointer: str = "") -> Any:
    """A copy of ``obj`` (JSON-like: dicts, lists, numbers, text) whose numbers know their
    pointer. Booleans stay booleans: they are not numbers a reader checks."""
    if isinstance(obj, dict):
        return {k: sourced(v, f"{pointer}/{_escape_token(k)}") for k, v in obj.items()}
    if isinstance(obj, list):
        return [sourced(v, f"{pointer}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return SourcedInt(obj, pointer)
    if isinstance(obj, float):
        return SourcedFloat(obj, pointer)
    return obj


def resolve(document: Any, pointer: str) -> Any:
    """The value at ``pointer`` (RFC 6901) in ``document``; KeyError/IndexError if absent."""
    value = document
    if pointer == "":
        return value
    if not pointer.startswith("/"):
        raise KeyError(f"not a JSON pointer: {pointer!r}")
    for token in pointer[1:].split("/"):
        key = _unescape_token(token)
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


# ------------------------------------------------------------------------------ formatters
def _missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def fmt(value: Any, digits: int = 3) -> str:
    """A number for reading: ``digits`` significant digits, thousands separated; "—" if null."""
    if _missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.2e}"
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def pct(value: Any) -> str:
    """A share (0.123) as a percentage with one decimal (12.3%)."""
    return "—" if _missing(value) else f"{100 * value:.1f}%"


def pvalue(value: Any) -> str:
    """A p-value with three decimals, or "< 0.001"."""
    if _missing(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def year(value: Any) -> str:
    """A (fiscal) year as it is written: 2019, not 2,019; "—" if null."""
    return "—" if _missing(value) else str(int(value))


def level(value: Any) -> str:
    """An interval level (0.95) as the percentage it names, without trailing zeros (95%,
    99.5%); "—" if null."""
    return "—" if _missing(value) else f"{100 * value:g}%"


#: name -> formatter; the name is what ``data-fmt`` records (with ``:ARG`` for an argument)
FORMATTERS: dict[str, Callable[..., str]] = {"fmt": fmt, "pct": pct, "pvalue": pvalue, "year": year,
                                             "level": level}


def format_named(value: Any, spec: str) -> str:
    """Apply the formatter that a ``data-fmt`` value names (``fmt``, ``fmt:2``, ``pct``...)."""
    name, _, arg = spec.partition(":")
    formatter = FORMATTERS[name]
    return formatter(value, int(arg)) if arg else formatter(value)


def as_html(value: Any, spec: str, text: str) -> Markup | str:
    """``text`` in a span naming where ``value`` comes from, when it knows; else ``text``."""
    if not isinstance(value, SourcedFloat | SourcedInt):  # computed, absent or not a number
        return text
    return Markup('<span data-src="{}" data-fmt="{}">{}</span>').format(value.src, spec, text)


# ------------------------------------------------------------------------------ checking
_SPAN = re.compile(r'<span data-src="([^"]*)" data-fmt="([^"]*)">(.*?)</span>', re.DOTALL)


def sourced_spans(page: str) -> list[tuple[str, str, str]]:
    """Every (pointer, formatter, text) that a rendered HTML page carries, unescaped."""
    return [(html.unescape(src), html.unescape(spec), html.unescape(text))
            for src, spec, text in _SPAN.findall(page)]


def check_html(page: str, results: dict[str, Any]) -> list[str]:
    """The spans of ``page`` whose text is not what their formatter writes for the value at
    their pointer in ``results`` (one line each); empty when every number agrees."""
    problems = []
    for src, spec, text in sourced_spans(page):
        try:
            expected = format_named(resolve(results, src), spec)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            problems.append(f"{src} ({spec}): not found in results.json ({exc!r})")
            continue
        if expected != text:
            problems.append(f"{src} ({spec}): page shows {text!r}, results.json gives {expected!r}")
    return problems
