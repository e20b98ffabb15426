"""Generated text in the documentation: the text between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``.

Every figure the documentation quotes from a run is written between such markers by the
script that measures or computes it (docs/*.py, benchmarks/*.py), never by hand. This module
is the one place that finds, replaces and writes those blocks, so that every script writes
them alike: the begin marker, a line break, the block's text (ending in a line break), the end
marker.

>>> replace("a <!-- x:begin -->\\nold\\n<!-- x:end --> b", "x", "new\\n")
'a <!-- x:begin -->\\nnew\\n<!-- x:end --> b'
"""

from __future__ import annotations

import os
from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of the block ``name`` (e.g. ``bench_ingest``, ``demo:run``)."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def contents(text: str, name: str) -> list[str]:
    """The text of each block ``name`` in ``text``, in order (without the line break that
    follows the begin marker)."""
    begin, end = markers(name)
    found = []
    for piece in text.split(begin)[1:]:
        if end not in piece:
            raise SystemExit(f"{name}: a begin marker without its end marker")
        found.append(piece.split(end, 1)[0].removeprefix("\n"))
    return found


def replace(text: str, name: str, body: str) -> str:
    """``text`` with every block ``name`` holding ``body`` (which should end in a line break)."""
    begin, end = markers(name)
    pieces = text.split(begin)
    out = [pieces[0]]
    for piece in pieces[1:]:
        if end not in piece:
            raise SystemExit(f"{name}: a begin marker without its end marker")
        tail = piece.split(end, 1)[1]
        out.append(f"{begin}\n{body}{end}{tail}")
    return "".join(out)


def _page(path: Path, name: str) -> str:
    """The text of ``path``, which must hold the block ``name`` (a script never appends figures
    to a page silently)."""
    text = path.read_text(encoding="utf-8")
    begin, end = markers(name)
    if text.count(begin) < 1 or text.count(begin) != text.count(end):
        raise SystemExit(f"{path}: expected a block {begin} ... {end}; found "
                         f"{text.count(begin)} begin and {text.count(end)} end markers")
    return text


def is_current(path: Path, name: str, body: str) -> bool:
    """Whether every block ``name`` of ``path`` holds ``body`` already."""
    text = _page(path, name)
    return replace(text, name, body) == text


def write(path: Path, name: str, body: str) -> bool:
    """Put ``body`` into the block ``name`` of ``path``; return whether the page changed."""
    text = _page(path, name)
    new = replace(text, name, body)
    if new != text:
        write_page(path, new)
    return new != text


def update(path: Path, blocks: dict[str, str], *, check: bool = False) -> bool:
    """Put each body of ``blocks`` (block name -> body) into its block of ``path``. With
    ``check`` nothing is written, and the answer is whether every block is current already;
    without, the answer is True once written (for a script's exit status either way)."""
    if check:
        return all(is_current(path, name, body) for name, body in blocks.items())
    for name, body in blocks.items():
        write(path, name, body)
    return True


def write_page(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
