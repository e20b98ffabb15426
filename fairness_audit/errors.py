"""Typed exceptions and warnings.

Every user mistake (a bad file, a bad config key, a missing column) raises a subclass of
``AuditError`` whose message names the file, column or key, what was expected and what was
found. The CLI prints that one line and exits non-zero; it never shows a traceback for them.
"""


class AuditError(Exception):
    """Base class for errors caused by the user's input; the message is shown as is."""


class ConfigError(AuditError):
    """The audit configuration (YAML) has a missing, unknown or invalid key."""


class MappingError(ConfigError):
    """A column mapping (YAML) for ``ingest table`` has a missing, unknown or invalid key."""


class TableError(AuditError):
    """A decisions table, workload file or extract cannot be used as it is."""


class OutputError(AuditError):
    """An output cannot be written: its folder cannot be created or written, it would replace
    an input, or the disk filled while writing (earlier output is then left as it was)."""


class ResultsError(AuditError):
    """A results.json cannot be read, or lacks what a command needs (``verify``)."""


class ValidationFailed(TableError):
    """A decisions table breaks the contract; ``problems`` holds one line per problem."""

    def __init__(self, path, problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(f"{self.path}: {len(self.problems)} problem(s)\n" + "\n".join(self.problems))


class NotEstimable(AuditError):
    """An analysis cannot be run because the rows it needs lack a column's values."""

    def __init__(self, column: str, detail: str = ""):
        self.column = column
        super().__init__(f"not estimable: {column}" + (f" ({detail})" if detail else ""))


class ModelWarning(UserWarning):
    """A model fitted, but something about it deserves the reader's attention."""
