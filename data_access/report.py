"""Validation issues and the report that collects them all at once."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"


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

    def to_records(self) -> list[dict]:
        """Every issue, sorted by file and row."""
        return [asdict(i) for i in sorted(self.issues, key=self._order)]

    def to_text(self) -> str:
        head = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([head, *(str(i) for i in sorted(self.errors, key=self._order)),
                          *(str(i) for i in sorted(self.warnings, key=self._order))])


class ImportRejected(Exception):
    """Raised when a study fails validation; carries the full report."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.to_text())
        self.report = report
