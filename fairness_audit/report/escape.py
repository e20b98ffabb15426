"""Labels from the data made harmless in each output the reports write.

Court, judge, nationality and language codes, docket and case-type labels, and the warnings and
reasons that quote them come from source files nobody here controls. Each output has its own
hazard, and one function here for each:

* Markdown (``md``, ``md_code``): a pipe breaks a table row, backticks, asterisks, underscores
  and brackets format or link, a leading ``#`` makes a heading, raw HTML passes through;
* CSV (``safe_cell``, ``write_csv``): a cell starting with ``=``, ``+``, ``-`` or ``@`` is run as a
  formula by spreadsheets;
* file names (``slug``): a label with ``/`` or ``..`` would write outside the output folder;
* figures (``plot_label``, ``PLAIN_TEXT``): matplotlib reads text between ``$`` signs as
  mathematics and fails on what it cannot parse, and has no glyph for a tab;
* LaTeX (``latex``): ``& % $ # _ { } ~ ^ \\`` are commands or syntax, ``< > |`` print as other
  glyphs in the default font encoding, and a newline would end a comment line early.

HTML is escaped by the report template's autoescaping (``render.py``), not here.
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Undefined

# --------------------------------------------------------------------------- Markdown
_MD_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
# backslash first, so that the escapes added after it are not doubled
_MD_PUNCTUATION = re.compile(r"([\\`*\[\]|~$])")
# an underscore between two letters or digits never starts or ends emphasis (CommonMark), so
# identifiers such as quota_shortfall stay readable; every other underscore is escaped
_MD_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# what would start a heading, list item, setext underline or quote at the start of a line
_MD_BLOCK_START = re.compile(r"^(\s*)([#+=-])")
_MD_ORDERED_START = re.compile(r"^(\s*\d+)([.)])")


def md(value: Any) -> str:
    """Text shown as itself in Markdown, on one line, also inside a table cell.

    Newlines become spaces; ``&``, ``<`` and ``>`` become entities (no raw HTML); the characters
    that format, link or end a table cell (backslash, backtick, ``*``, ``_``, brackets, ``|``,
    ``~``, ``$``) are backslash-escaped, and so is a leading ``#``, ``-``, ``+``, ``=`` or
    ``1.``. A missing value is shown as "—".

    Examples
    --------
    >>> md("a|b")
    'a\\\\|b'
    >>> md("<script>")
    '&lt;script&gt;'
    """
    if value is None or isinstance(value, Undefined):
        return "—"
    text = " ".join(str(value).splitlines())
    for raw, entity in _MD_ENTITIES:
        text = text.replace(raw, entity)
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = _MD_BLOCK_START.sub(r"\1\\\2", text)
    return _MD_ORDERED_START.sub(r"\1\\\2", text)


def md_code(value: Any) -> str:
    """``value`` as a Markdown code span, whatever backticks it holds (a fence longer than its
    longest run of backticks; backslash escapes do not work inside code spans)."""
    text = " ".join(str(value).splitlines())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# --------------------------------------------------------------------------- CSV
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell that spreadsheets will not run: a string starting with = + - @, a tab or a
    carriage return gets a leading apostrophe. Numbers (negative ones too) are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(table: pd.DataFrame | Iterable[dict[str, Any]], path: Path) -> None:
    """Write a report table (a data frame, or rows as dicts) as CSV, every cell through
    ``safe_cell``. The columns of rows as dicts are those of the first row; no rows, no file.

    Every CSV the reports write (the audit's tables/*.csv, the judges command's judges.csv and
    courts.csv) goes through here, because people open them in spreadsheets. Data exports meant
    for R or Stata (the decisions parquet, the ingest's set_aside parquet) keep their values
    exactly as read and are not written here.
    """
    if isinstance(table, pd.DataFrame):
        # the header too: a column named from the plan or the data is a cell like any other
        table.map(safe_cell).rename(columns=safe_cell).to_csv(path, index=False)
        return
    rows = list(table)
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writerow({k: safe_cell(k) for k in rows[0]})
        for row in rows:
            writer.writerow({k: safe_cell(v) for k, v in row.items()})


# --------------------------------------------------------------------------- LaTeX
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
_LATEX_SPECIAL = re.compile(r"[\\&%$#_{}~^<>|]")


def latex(value: Any) -> str:
    """Text shown as itself in LaTeX (text mode), on one line, also inside a tabular cell.

    The characters LaTeX reads as syntax (``& % $ # _ { } ~ ^`` and the backslash) become the
    commands that print them, and so do ``<``, ``>`` and ``|`` (which the default OT1 font
    encoding prints as other glyphs); control characters (newline, tab) become spaces, so that
    a label cannot end a comment line or a table row. A missing value is shown as "---".

    Examples
    --------
    >>> latex("50% & $x_1$")
    '50\\\\% \\\\& \\\\$x\\\\_1\\\\$'
    >>> latex("a\\nb")
    'a b'
    """
    if value is None or isinstance(value, Undefined):
        return "---"
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in str(value))
    return _LATEX_SPECIAL.sub(lambda m: _LATEX[m.group()], text)


# --------------------------------------------------------------------------- file names
_SLUG_BAD = re.compile(r"[^A-Za-z0-9._-]+")
_SLUG_MAX = 100


def slug(name: Any) -> str:
    """A file name (without its folder) made from a label: ASCII letters, digits, ``-``, ``_``
    and ``.``; no ``/``, no ``..``, no leading dot or dash, at most about 110 characters.

    A name that is already safe is returned as it is; any other gets a short hash of the
    original, so that two labels that differ only in the characters replaced still name two
    files.

    Examples
    --------
    >>> slug("rates_granted_nationality")
    'rates_granted_nationality'
    >>> slug("../../etc/passwd").startswith("etc_passwd-")
    True
    """
    text = str(name)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    clean = _SLUG_BAD.sub("_", ascii_text)
    clean = re.sub(r"_+", "_", re.sub(r"\.{2,}", "_", clean)).lstrip("._-")[:_SLUG_MAX]
    if clean == text and clean:
        return clean
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{clean}-{digest}" if clean else digest


def inside(folder: Path, name: Any, suffix: str = "") -> Path:
    """``folder / (slug(name) + suffix)``: a path that cannot leave ``folder``."""
    return Path(folder) / f"{slug(name)}{suffix}"


# --------------------------------------------------------------------------- figures
# pass as keyword arguments to matplotlib text that shows labels from the data
PLAIN_TEXT: dict[str, Any] = {"parse_math": False}


def plot_label(value: Any) -> str:
    """A label from the data as figure text, on one line: control characters (tab, newline,
    carriage return) become spaces. Draw it with ``PLAIN_TEXT``."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in str(value))
