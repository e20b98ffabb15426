"""Writing outputs so that nobody ever reads half of them.

Evidence must not rest on a half-written report or table. Every command therefore

1. checks, before any work, that its output folder can be created and written
   (:func:`check_output_folder`), and removes staging folders that killed runs left behind
   (:func:`remove_stale_staging`);
2. writes into a staging folder beside its output, ``.NAME.staging-PID-XXXXXXXX``
   (:func:`make_staging`), so that a run that fails or is interrupted leaves the previous
   output as it was; an error while writing becomes one :class:`OutputError` line that names
   the file (:func:`writing`);
3. moves the finished output into place at the end, with SIGINT and SIGTERM held back for
   those few renames (:func:`signals_deferred`); on the command line either signal stops
   the run with one line (:func:`exit_on_interrupt`).

A SIGKILL (or a power cut) cannot be cleaned up after: it can leave a staging folder, which
the next run of the same output removes once the process named in it is gone.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from fairness_audit.checkpoints import checkpoint
from fairness_audit.errors import OutputError

_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied (operation not permitted)",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
}


def describe(exc: OSError) -> str:
    """The reason an operating-system error gives, in a few plain words."""
    return _REASONS.get(exc.errno) or (exc.strerror or str(exc)).rstrip(".")


@functools.cache
def _umask() -> int:
    # read once: reading the umask means setting it, which other threads would see
    umask = os.umask(0)
    os.umask(umask)
    return umask


def default_mode(directory: bool = False) -> int:
    """The permissions a plainly created file (or folder) gets under the process's umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def publish(tmp: str | os.PathLike, path: str | os.PathLike, *, directory: bool = False) -> None:
    """Move a finished temporary file or folder into place with ordinary permissions
    (temporary files are created private)."""
    os.chmod(tmp, default_mode(directory))
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Before the work: can the output be written?
# --------------------------------------------------------------------------------------------
def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest of ``folder`` and its ancestors that exists and is not a folder."""
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            return None if p.is_dir() else p
    return None


def check_output_folder(folder: Path, label: str) -> None:
    """Create ``folder`` if needed and make sure files can be created in it.

    Runs before any work, so that an unusable output folder is one line at the start, not a
    traceback after a long run. ``label`` starts the message (e.g. ``--out PATH``).

    Raises
    ------
    OutputError
        The folder (or a folder above it) is a file, or it cannot be created or written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = _file_in_the_way(folder)
        if blocker is not None:
            raise OutputError(f"{label}: cannot create the output folder: {blocker} is a "
                              "file") from None
        raise OutputError(f"{label}: cannot create the output folder {folder}: "
                          f"{describe(exc)}") from None
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".fairness-audit-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{label}: cannot write in the folder {folder}: "
                          f"{describe(exc)}") from None


# --------------------------------------------------------------------------------------------
# Staging folders
# --------------------------------------------------------------------------------------------
def _staging_prefix(target: Path) -> str:
    return f".{target.name}.staging-"


def make_staging(target: Path) -> Path:
    """A new, empty staging folder beside ``target``: ``.NAME.staging-PID-XXXXXXXX``.

    The process id in the name lets a later run tell a folder left by a killed run from one
    that a running process is still writing.
    """
    with writing(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=target.parent,
                                     prefix=f"{_staging_prefix(target)}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_staging(target: Path) -> list[Path]:
    """Remove the staging folders of ``target`` whose process is no longer running.

    Returns the folders removed. A folder whose name does not carry a process id is left
    alone (it is not one of ours). A previous output set aside by :func:`staged_folder` in
    the instant before the new one took its place goes back into place if nothing took it.
    """
    removed = []
    prefix = _staging_prefix(target)
    if not target.parent.is_dir():
        return removed
    for p in sorted(target.parent.iterdir()):
        if not p.name.startswith(prefix):
            continue
        pid = p.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        if p.name.endswith("-previous") and not (target.exists() or target.is_symlink()):
            os.rename(p, target)
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM while the block runs (a few renames), so that Ctrl-C or a
    plain ``kill`` cannot stop a run between two moves into place; they act right after."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _where(exc: OSError, path: Path, shown: Path | None) -> tuple[Path, bool]:
    """The file to name for an error while writing ``path``: the one the error names, mapped
    from the staging folder to its final place (``shown``); whether the error named one."""
    if not exc.filename:
        return shown or path, False
    named = Path(os.fsdecode(exc.filename))
    if shown is None:
        return named, True
    try:
        return shown / named.relative_to(path), True
    except ValueError:  # a temporary file beside it: name the file it was to become
        return shown, False


@contextlib.contextmanager
def writing(path: Path, *, shown: Path | None = None, what: str = "it") -> Iterator[None]:
    """Turn an operating-system error raised while writing ``path`` (a file or a folder of
    files) into one OutputError line that names the file and the reason.

    ``shown`` is the path to name instead of ``path`` (the final place of what is written in a
    staging folder); ``what`` describes ``path`` when the error does not name a file. The one
    place where failures to write outputs become user-facing errors.
    """
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        where, named = _where(exc, path, shown)
        raise OutputError(f"{where}: could not write {'it' if named else what}: {describe(exc)}; "
                          "nothing was replaced (an earlier output, if any, is as it was)") from exc


class _Interrupted(BaseException):
    """SIGINT, raised past Click (which would turn KeyboardInterrupt into "Aborted!")."""


INTERRUPTED = ("error: interrupted; no partial output was left (outputs are replaced only "
               "when complete)")


@contextlib.contextmanager
def exit_on_interrupt() -> Iterator[None]:
    """For the command line: Ctrl-C (SIGINT) or a plain ``kill`` (SIGTERM) stops the run with
    one line and exit code 128 + the signal's number (130 for Ctrl-C).

    The staging folders are removed on the way out, so nothing half-written remains. Any
    error that follows the signal counts as the interrupt: DuckDB, for one, turns it into a
    RuntimeError ("Query interrupted").
    """
    received: list[int] = []

    def _raise(signum, frame) -> None:
        received.append(signum)
        raise _Interrupted

    previous = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except (_Interrupted, Exception):
        if not received:
            raise
        print(INTERRUPTED, file=sys.stderr, flush=True)
        raise SystemExit(128 + received[0]) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield a staging folder for ``out``; when the block ends normally, it replaces ``out``.

    The previous ``out`` is renamed aside and removed only after the new folder is in place;
    on any error or interrupt the staging folder is removed and ``out`` is untouched.
    """
    staging = make_staging(out)
    try:
        yield staging
        checkpoint("publish")
        previous = staging.with_name(staging.name + "-previous")
        with writing(out), signals_deferred():
            os.chmod(staging, default_mode(directory=True))
            had_previous = out.exists() or out.is_symlink()
            if had_previous:
                os.rename(out, previous)
            try:
                os.rename(staging, out)
            except OSError:
                if had_previous:
                    os.rename(previous, out)
                raise
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def check_replaceable_folder(out: Path, inputs: Iterable[str | os.PathLike], *, kind: str,
                             foreign: Callable[[Path], str | None]) -> None:
    """Before any work: the output folder ``out`` can be created, written and replaced as a
    whole without losing anything (the audit, ``judges`` and ``diff-releases`` replace theirs).

    ``out`` may not be a file, be or hold an input, or sit inside an input folder; ``foreign``
    says what is wrong with an existing folder's contents (files of something else), or None.
    Staging folders left by killed runs of the same output are removed.

    Raises
    ------
    OutputError
        One line naming ``--out`` and what is wrong (``kind`` names what replaces the folder).
    """
    label = f"--out {out}"
    if out.exists() and not out.is_dir():
        raise OutputError(f"{label}: expected a folder, found a file")
    target = out.resolve()
    for item in inputs:
        source = Path(item).resolve()
        if target == source or target in source.parents:
            raise OutputError(f"{label}: the output folder is replaced by each {kind}, and it "
                              f"holds the input {item}; choose another folder")
        if Path(item).is_dir() and source in target.parents:
            raise OutputError(f"{label}: the output would be written inside the input folder "
                              f"{item}; choose an --out outside it, so the input stays as it was")
    problem = foreign(out) if out.is_dir() else None
    if problem:
        raise OutputError(f"{label}: {problem}")
    check_output_folder(out.parent, label)
    remove_stale_staging(out)
