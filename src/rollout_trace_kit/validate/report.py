"""Output formats for validation reports: human, json, jsonl, junit, github, sarif.

``jsonl`` streams: a line per bundle as it finishes (:func:`render_jsonl_line`, each an
element of the ``json`` format's ``bundles``); the others are written whole at the end.

Every string taken from a bundle (paths, messages, pointers) goes through
:mod:`rollout_trace_kit.escape` for the format at hand.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .. import __version__, escape
from ..links import DOCS_URL, invariant_url
from .findings import BundleReport, Finding, Severity

FORMATS = ("human", "json", "jsonl", "junit", "github", "sarif")
REPORT_FORMAT = "rollout-trace-kit/validate-report/1"


def _where(f: Finding) -> str:
    parts = [f.file or "bundle"]
    if f.line is not None:
        parts[0] += f":{f.line}"
    if f.seq is not None:
        parts.append(f"seq {f.seq}")
    if f.pointer:
        parts.append(f.pointer)
    return ", ".join(parts)


def counts(r: BundleReport) -> tuple[int, int]:
    # findings past --max-findings are not listed, but they count
    errs = sum(f.severity is Severity.ERROR for f in r.findings) + r.dropped_errors
    return errs, len(r.findings) + r.dropped_warnings + r.dropped_errors - errs


class Tally:
    """The counts of a run's summary line, kept as reports arrive (a fleet's are not all kept)."""

    def __init__(self) -> None:
        self.bundles = self.failing = self.findings = self.errors = 0

    def add(self, r: BundleReport) -> None:
        errs, warns = counts(r)
        self.bundles += 1
        self.failing += not r.ok
        self.findings += errs + warns
        self.errors += errs

    def text(self) -> str:
        return (f"{self.bundles} bundle(s), {self.failing} failing, {self.findings} finding(s) "
                f"({self.errors} error(s), {self.findings - self.errors} warning(s))")


def summary(reports: list[BundleReport]) -> str:
    tally = Tally()
    for r in reports:
        tally.add(r)
    return tally.text()


def render_jsonl_line(r: BundleReport) -> str:
    """One bundle's line of ``--format jsonl``."""
    return json.dumps(escape.tree(r.to_dict()), ensure_ascii=False) + "\n"


def render_json(reports: list[BundleReport]) -> str:
    out = {
        "format": REPORT_FORMAT,
        "kit_version": __version__,
        "bundles": [r.to_dict() for r in reports],
        "ok": all(r.ok for r in reports),
    }
    return json.dumps(escape.tree(out), indent=2, ensure_ascii=False) + "\n"


def render_junit(reports: list[BundleReport]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    failures = sum(1 for r in reports if not r.ok)
    lines.append(f'<testsuites name="rollout-trace validate" tests="{len(reports)}" failures="{failures}">')
    for r in reports:
        errs, _ = counts(r)
        lines.append(f'  <testsuite name={escape.xml_attr(r.bundle)} tests="1" failures="{1 if errs else 0}">')
        lines.append(f'    <testcase classname="rollout-trace.{r.profile.label}" name={escape.xml_attr(r.bundle)}>')
        if errs:
            body = "\n".join(
                escape.xml_text(f"{f.severity.value} {f.invariant} [{f.profile.label}] {_where(f)}: {f.message}")
                for f in r.findings
            )
            lines.append(f"      <failure message={escape.xml_attr(f'{errs} error(s)')}>{body}</failure>")
        lines.append("    </testcase>")
        lines.append("  </testsuite>")
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


def render_github(reports: list[BundleReport]) -> str:
    """GitHub workflow commands: one annotation per finding, on the file and line."""
    out = []
    for r in reports:
        for f in r.findings:
            level = "error" if f.severity is Severity.ERROR else "warning"
            path = f"{r.bundle.rstrip('/')}/{f.file}" if f.file else r.bundle
            props = f"file={escape.github_property(path)}"
            if f.line is not None:
                props += f",line={f.line}"
            props += f",title={escape.github_property(f.invariant)}"
            out.append(f"::{level} {props}::{escape.github_message(f'[{f.profile.label}] {f.message}')}")
    return "\n".join(out) + ("\n" if out else "")


def _uri(path: str) -> str:
    """A SARIF artifact URI: a relative reference, percent-encoded byte for byte."""
    import os
    from urllib.parse import quote

    return quote(os.fsencode(path), safe="/")


def render_sarif(reports: list[BundleReport]) -> str:
    """SARIF 2.1.0: one run; the rules are the invariant catalogue, each with its docs link."""
    from .catalogue import all_invariants

    invariants = all_invariants()
    index = {inv.id: n for n, inv in enumerate(invariants)}
    rules = [
        {
            "id": inv.id,
            "name": inv.id.replace(".", "_").title().replace("_", ""),
            "shortDescription": {"text": inv.meaning},
            "fullDescription": {"text": f"{inv.meaning} {inv.notes}".strip()},
            "helpUri": invariant_url(inv.id),
            "help": {"text": f"{inv.meaning} See {invariant_url(inv.id)}"},
            "defaultConfiguration": {"level": "error" if inv.severity is Severity.ERROR else "warning"},
            "properties": {"profiles": {d: p.label for d, p in inv.levels.items()}, "source": inv.source},
        }
        for inv in invariants
    ]
    results = []
    for r in reports:
        for f in r.findings:
            path = f"{r.bundle.rstrip('/')}/{f.file}" if f.file else r.bundle
            location: dict = {"physicalLocation": {"artifactLocation": {"uri": _uri(path)}}}
            if f.line is not None and f.line >= 1:
                location["physicalLocation"]["region"] = {"startLine": f.line}
            result: dict[str, Any] = {
                "ruleId": f.invariant,
                "level": "error" if f.severity is Severity.ERROR else "warning",
                "message": {"text": f"[{f.profile.label}] {_where(f)}: {f.message}"},
                "locations": [location],
                "properties": {"profile": f.profile.label, "bundle": r.bundle, "dialect": r.dialect},
            }
            if f.invariant in index:
                result["ruleIndex"] = index[f.invariant]
            if f.seq is not None:
                result["properties"]["seq"] = f.seq
            results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "rollout-trace",
                        "fullName": "rollout-trace-kit validate",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": DOCS_URL,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
                "properties": {"format": "rollout-trace-kit/validate-sarif/1", "ok": all(r.ok for r in reports)},
            }
        ],
    }
    return json.dumps(escape.tree(doc), indent=2, ensure_ascii=False) + "\n"


def render_human(reports: list[BundleReport], console, quiet: bool = False) -> None:
    m = escape.rich_markup
    for r in reports:
        errs, warns = counts(r)
        if quiet and r.ok and not r.findings:
            continue
        mark = "[green]ok[/]  " if r.ok else "[red]FAIL[/]"
        console.print(
            f"{mark} {m(r.bundle)}  [dim]dialect {m(r.dialect or '?')}, profile {r.profile.label}, "
            f"{r.events} events, {errs} error(s), {warns} warning(s)[/]"
        )
        for f in r.findings:
            label = "[red]error[/]  " if f.severity is Severity.ERROR else "[yellow]warning[/]"
            console.print(
                f"  {label} [bold]{m(f.invariant)}[/] [dim]\\[{f.profile.label}][/] {m(_where(f))}: {m(f.message)}"
            )
            if f.related_seq is not None:
                console.print(f"    [dim]related event: seq {f.related_seq}[/]")
        if r.truncated:
            console.print(
                f"  [yellow]... {r.dropped_errors} more error(s) and {r.dropped_warnings} more warning(s) "
                "were not listed (--max-findings); the verdict counts them[/]"
            )
        for note in r.notes:
            console.print(f"  [dim]note: {m(note)}[/]")
        if r.releases is not None:
            m = escape.rich_markup
            console.print(f"  [dim]{m(schema_version_text(r.releases['schema_version']))}: "
                          f"read by Codex {m(', '.join(r.releases['readers']) or 'none')}; "
                          + (f"writable by {m(', '.join(r.releases['writers']) or 'none')}[/]"
                             if r.releases['writers'] is not None else "writers not judged in this profile[/]"))


def schema_version_text(version) -> str:
    """The schema_version the events state, for a summary line (None: no event states one)."""
    return "no schema_version" if version is None else f"schema_version {version!r}"


def print_human(reports: list[BundleReport], file=None, color: str = "auto", quiet: bool = False) -> None:
    from ..output import console

    c = console(file or sys.stdout, color)
    render_human(reports, c, quiet)
    if not quiet:
        c.print(summary(reports))


RENDERERS = {"json": render_json, "junit": render_junit, "github": render_github, "sarif": render_sarif}
