"""Exceptions raised by kam_analysis.

Every error a consultant can cause (bad data, bad parameters, a failed run) is a
:class:`KAMError` whose message says what is wrong and how to fix it. The CLI prints
the message, not a traceback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "KAMError",
    "ParameterError",
    "SettingError",
    "DataValidationError",
    "RunError",
    "RunStopped",
    "Terminated",
    "Problem",
    "list_values",
]


class KAMError(Exception):
    """Base class for every error kam_analysis raises on purpose."""


class ParameterError(KAMError):
    """The parameter file (or a ``--set`` override) is invalid."""


class SettingError(KAMError, ValueError):
    """An environment variable the package reads (e.g. ``KAM_DUCKDB_MEMORY_LIMIT``) holds a value it cannot use."""


class RunError(KAMError):
    """A notebook or deliverable failed during ``kam run``.

    ``exit_code`` is the ``kam`` command's exit status for it (1).
    """

    exit_code = 1


class RunStopped(RunError):
    """The run was stopped by a signal: Ctrl-C (SIGINT, exit 130) or SIGTERM (exit 143).

    The run folder is kept as ``<run-id>-failed`` with the phase that was running.
    """

    def __init__(self, message: str, *, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM during ``kam``.

    A KeyboardInterrupt, so every step that stops cleanly on Ctrl-C stops on SIGTERM too.
    """


#: how a warehouse source is named in a problem's ``file`` (config.WarehouseSource.label)
_WAREHOUSE_SOURCE = re.compile(r"^(duckdb|postgres|pyspark|snowflake|bigquery) (table|query)\b")


@dataclass(frozen=True)
class Problem:
    """One data problem found by validation.

    Attributes
    ----------
    rule : str
        Short machine name of the rule, e.g. ``"missing_column"``.
    message : str
        What is wrong, in words a consultant understands.
    fix : str
        What to do about it.
    file : str | None
        The client file (as given in the params) the problem is in.
    column : str | None
        The client's column name (not the contract name) where it applies.
    count : int
        How many rows are affected (0 when the problem is not about rows).
    examples : tuple
        A few offending values.
    severity : str
        ``"error"`` stops the run; ``"warning"`` is reported and the run goes on.
    setting : str | None
        The parameter-file key the problem is about (``client.industry``), when it is one.
    """

    rule: str
    message: str
    fix: str
    file: str | None = None
    column: str | None = None
    count: int = 0
    examples: tuple = field(default_factory=tuple)
    severity: str = "error"
    setting: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:  # a file, or a warehouse source ('postgres table sales.orders')
            where.append(self.file if _WAREHOUSE_SOURCE.match(self.file) else f"file {self.file}")
        if self.column:
            where.append(f"column '{self.column}'")
        if self.setting:
            where.append(f"parameter {self.setting}")
        head = f"[{self.severity.upper()}] {self.message}"
        if where:
            head += f" ({', '.join(where)})"
        lines = [head]
        if self.count:
            lines.append(f"    rows affected: {self.count:,}")
        if self.examples:
            shown = ", ".join(repr(e) for e in self.examples)
            lines.append(f"    examples: {shown}")
        lines.append(f"    fix: {self.fix}")
        return "\n".join(lines)


class DataValidationError(KAMError):
    """Client data failed validation; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        n = len(errors)
        header = f"Client data failed validation: {n} problem{'s' if n != 1 else ''} must be fixed."
        super().__init__("\n".join([header, *[str(p) for p in errors]]))


def list_values(values, n: int = 5) -> str:
    """Up to ``n`` offending values for an error message, quoted, and how many more there are.

    >>> list_values(["a", "b", "c"], n=2)
    "'a', 'b' (and 1 more)"
    """
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:n])
    return shown + (f" (and {len(values) - n} more)" if len(values) > n else "")
