"""Validation issues and the report that collects them all at once."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"
#: Issues listed per severity, file and column; the rest are counted (a file with a million bad dates stays
#: readable, and the report stays small).
SHOWN_PER_COLUMN = 50
#: Beyond those, the first issue of each further rule of a column is kept too (up to this many rules), so a
#: column's ten negative values are not hidden behind its million bad dates.
MORE_RULES_PER_COLUMN = 10
#: Longest message kept, in characters: one quoting a huge cell keeps its start and its end.
MAX_MESSAGE = 500


@dataclass(frozen=True)
class Issue:
    """One problem found in the input, located by file, row (as a spreadsheet shows it) and column."""

    severity: str
    file: str
    message: str
    row: int | None = None
    column: str | None = None
    table: str | None = None

    def location(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.severity.upper()}: {self.location()}: {self.message}"


@dataclass
class ValidationReport:
    """Every error and warning of one import attempt, counted; the import goes ahead only when `ok`. Only the first
    SHOWN_PER_COLUMN issues of each severity, file, column and table are kept (`issues`), the rest counted
    (`counts`): a file with a million bad cells gives a small report, and the import is still refused."""

    issues: list[Issue] = field(default_factory=list)
    #: Issues found, kept or not, by (severity, file, column, table).
    counts: dict[tuple, int] = field(default_factory=dict)
    #: The rules (see `rule`) of the kept issues, by (severity, file, column, table).
    rules: dict[tuple, set[str]] = field(default_factory=dict, repr=False)
    #: How many issues are kept, by the same key.
    kept: dict[tuple, int] = field(default_factory=dict, repr=False)

    @staticmethod
    def _key(issue: Issue) -> tuple:
        return issue.severity, issue.file, issue.column, issue.table

    def _add(self, issue: Issue) -> None:
        key = self._key(issue)
        self.counts[key] = self.counts.get(key, 0) + 1
        rules, rule_, kept = self.rules.setdefault(key, set()), rule(issue.message), self.kept.get(key, 0)
        if kept < SHOWN_PER_COLUMN or rule_ not in rules and kept < SHOWN_PER_COLUMN + MORE_RULES_PER_COLUMN:
            self.issues.append(issue)
            rules.add(rule_)
            self.kept[key] = kept + 1

    def error(self, file: str, message: str, row: int | None = None, column: str | None = None,
              table: str | None = None) -> None:
        self._add(Issue(ERROR, file, _cut(message), row, column, table))

    def warning(self, file: str, message: str, row: int | None = None, column: str | None = None,
                table: str | None = None) -> None:
        self._add(Issue(WARNING, file, _cut(message), row, column, table))

    def extend(self, other: ValidationReport) -> None:
        for issue in other.issues:
            self._add(issue)
        for key, n in other.counts.items():  # the ones `other` only counted
            self.counts[key] = self.counts.get(key, 0) + n - other.kept.get(key, 0)

    @property
    def errors(self) -> list[Issue]:
        """The kept errors (`n_errors` counts them all)."""
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        """The kept warnings (`n_warnings` counts them all)."""
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def n_errors(self) -> int:
        return sum(n for key, n in self.counts.items() if key[0] == ERROR)

    @property
    def n_warnings(self) -> int:
        return sum(n for key, n in self.counts.items() if key[0] == WARNING)

    @property
    def ok(self) -> bool:
        return not self.n_errors

    @staticmethod
    def _order(issue: Issue) -> tuple:
        """By file, then row (problems of a whole file or column first), then column."""
        return issue.file, -1 if issue.row is None else issue.row, issue.column or ""

    def shown(self, per_column: int | None = SHOWN_PER_COLUMN, errors_first: bool = False) -> list[Issue]:
        """The issues to show, by file and row (errors first when asked): at most `per_column` of one severity per
        file and column (None: all that are kept), and the first of each further rule, each cut group followed by
        an issue that says how many more there are."""
        keyed: list[tuple[tuple, Issue]] = []
        for rank, group in enumerate((self.errors, self.warnings)):
            listed: dict[tuple, int] = {}
            listed_rules: dict[tuple, set[str]] = {}
            for issue in sorted(group, key=self._order):
                key, rule_ = self._key(issue), rule(issue.message)
                if per_column is None or listed.get(key, 0) < per_column or rule_ not in listed_rules.get(key, ()):
                    listed[key] = listed.get(key, 0) + 1
                    listed_rules.setdefault(key, set()).add(rule_)
                    keyed.append(((rank if errors_first else 0, *self._order(issue)), issue))
            for key, n in listed.items():
                severity, file, column, table = key
                if self.counts[key] > n:
                    where = f"column '{column}'" if column else "this file"
                    more = Issue(severity, file, f"… and {self.counts[key] - n:,} more {severity}s in {where} (the "
                                 f"first {n} are listed)", None, column, table)
                    keyed.append(((rank if errors_first else 0, file, math.inf, column or ""), more))
        return [issue for _, issue in sorted(keyed, key=lambda pair: pair[0])]

    def to_records(self, per_column: int | None = SHOWN_PER_COLUMN, errors_first: bool = False) -> list[dict]:
        """The shown issues (see `shown`) as dicts."""
        return [asdict(i) for i in self.shown(per_column, errors_first)]

    def to_text(self, per_column: int | None = SHOWN_PER_COLUMN) -> str:
        head = f"{self.n_errors:,} error(s), {self.n_warnings:,} warning(s)"
        return "\n".join([head, *(str(i) for i in self.shown(per_column, errors_first=True))])


def rule(message: str) -> str:
    """What a message says without the values it quotes or counts: the rule it reports (e.g. "'…' is not a number
    of days since infusion")."""
    return _VALUES.sub("…", message)


_VALUES = re.compile(r"'[^']*'|\d[\d.,]*(?:e[+-]?\d+)?")


def _cut(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else f"{message[:MAX_MESSAGE - 101]}…{message[-100:]}"


class ImportRejected(Exception):
    """Raised when a study fails validation; carries the full report."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.to_text())
        self.report = report
