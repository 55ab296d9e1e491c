"""An import report in words, the same for the command line and the console."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.render import Renderer
from bot.registry.importer import FIELDS, ImportFileError, RowError
from bot.registry.service import ImportReport

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class ReportView:
    """Plain-text lines of a report, by section (the console escapes them once)."""

    summary: str
    counts: str
    file: str
    ignored: str | None
    errors: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ok: bool = True
    headings: dict[str, str] = field(default_factory=dict)


def field_name(renderer: Renderer, name: str, locale: str) -> str:
    """Return one of our fields in words."""
    return renderer.label(f"registry.field_{name}", locale) if name in FIELDS else name


def error_line(renderer: Renderer, error: RowError, locale: str) -> str:
    """Return "Row 7, crebo: crebo 99999 is not in the catalogue"."""
    reason = renderer.label(f"registry.reason_{error.reason}", locale, value=error.value)
    return renderer.label(
        "registry.report_error",
        locale,
        row=error.row,
        field=field_name(renderer, error.field, locale),
        reason=reason,
    )


def file_error(renderer: Renderer, error: ImportFileError, locale: str) -> str:
    """Return why a file could not be read at all."""
    return renderer.label(f"registry.file_{error.reason}", locale, **error.ctx)


def view(renderer: Renderer, report: ImportReport, locale: str) -> ReportView:
    """Put a report into words."""
    label = renderer.label
    if not report.ok:
        summary = label("registry.report_refused", locale, count=len(report.errors))
    elif report.applied:
        summary = label("registry.report_applied", locale)
    else:
        summary = label("registry.report_dry_run", locale)
    delimiter = report.delimiter
    delimiter_name = (
        label(f"registry.delimiter_{_DELIMITER_NAMES[delimiter]}", locale)
        if delimiter in _DELIMITER_NAMES
        else (delimiter or "")
    )
    columns = ", ".join(
        f"{header} → {field_name(renderer, name, locale)}"
        for name, header in report.checked.columns.items()
    )
    ignored = report.checked.ignored
    return ReportView(
        summary=summary,
        counts=label(
            "registry.report_counts",
            locale,
            rows=len(report.checked.rows) + len({e.row for e in report.errors}),
            new=len(report.new),
            updated=len(report.updated),
            unchanged=report.unchanged,
            missing=len(report.missing),
            suppressed=report.suppressed,
        ),
        file=label(
            "registry.report_file",
            locale,
            encoding=report.encoding,
            delimiter=delimiter,
            delimiter_name=delimiter_name,
            columns=columns,
        ),
        ignored=label("registry.report_ignored", locale, headers=", ".join(ignored))
        if ignored
        else None,
        errors=[error_line(renderer, e, locale) for e in report.errors],
        new=[f"{row.student_number} {row.first_name} {row.last_name}" for row in report.new],
        updated=[
            label(
                "registry.report_change",
                locale,
                row=row.row,
                student_number=row.student_number,
                fields=", ".join(field_name(renderer, n, locale) for n in changed),
            )
            for row, changed in report.updated
        ],
        missing=list(report.missing),
        ok=report.ok,
        headings={
            name: label(f"registry.report_{name}_heading", locale)
            for name in ("errors", "new", "updated", "missing")
        },
    )
