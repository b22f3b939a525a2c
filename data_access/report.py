"""Validation issues and the report that collects them all at once."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"
#: Issues listed per severity, file and column; the rest are counted (a file with a million bad dates stays
#: readable, and the report stays small).
SHOWN_PER_COLUMN = 50


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
    """Every error and warning of one import attempt; the import goes ahead only when `ok`."""

    issues: list[Issue] = field(default_factory=list)

    def error(self, file: str, message: str, row: int | None = None, column: str | None = None,
              table: str | None = None) -> None:
        self.issues.append(Issue(ERROR, file, message, row, column, table))

    def warning(self, file: str, message: str, row: int | None = None, column: str | None = None,
                table: str | None = None) -> None:
        self.issues.append(Issue(WARNING, file, message, row, column, table))

    def extend(self, other: ValidationReport) -> None:
        self.issues.extend(other.issues)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    @staticmethod
    def _order(issue: Issue) -> tuple:
        """By file, then row (problems of a whole file or column first), then column."""
        return issue.file, -1 if issue.row is None else issue.row, issue.column or ""

    def shown(self, per_column: int | None = SHOWN_PER_COLUMN, errors_first: bool = False) -> list[Issue]:
        """The issues to show, by file and row (errors first when asked): at most `per_column` of one severity per
        file and column (None: all), each cut group followed by an issue that says how many more there are."""
        keyed: list[tuple[tuple, Issue]] = []
        for rank, group in enumerate((self.errors, self.warnings)):
            counts: dict[tuple, int] = {}
            for issue in sorted(group, key=self._order):
                key = (issue.file, issue.column, issue.table)
                counts[key] = counts.get(key, 0) + 1
                if per_column is None or counts[key] <= per_column:
                    keyed.append(((rank if errors_first else 0, *self._order(issue)), issue))
            for (file, column, table), n in counts.items():
                if per_column is not None and n > per_column:
                    where = f"column '{column}'" if column else "this file"
                    more = Issue(group[0].severity, file, f"… and {n - per_column:,} more {group[0].severity}s in "
                                 f"{where} (the first {per_column} are listed)", None, column, table)
                    keyed.append(((rank if errors_first else 0, file, math.inf, column or ""), more))
        return [issue for _, issue in sorted(keyed, key=lambda pair: pair[0])]

    def to_records(self, per_column: int | None = SHOWN_PER_COLUMN, errors_first: bool = False) -> list[dict]:
        """The shown issues (see `shown`) as dicts."""
        return [asdict(i) for i in self.shown(per_column, errors_first)]

    def to_text(self, per_column: int | None = SHOWN_PER_COLUMN) -> str:
        head = f"{len(self.errors):,} error(s), {len(self.warnings):,} warning(s)"
        return "\n".join([head, *(str(i) for i in self.shown(per_column, errors_first=True))])


class ImportRejected(Exception):
    """Raised when a study fails validation; carries the full report."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.to_text())
        self.report = report
