"""Output formats for validation reports: human, json, junit, github."""

from __future__ import annotations

import json
import sys
from xml.sax.saxutils import escape, quoteattr

from .findings import BundleReport, Finding, Severity

FORMATS = ("human", "json", "junit", "github")


def _where(f: Finding) -> str:
    parts = [f.file or "bundle"]
    if f.line is not None:
        parts[0] += f":{f.line}"
    if f.seq is not None:
        parts.append(f"seq {f.seq}")
    if f.pointer:
        parts.append(f.pointer)
    return ", ".join(parts)


def render_json(reports: list[BundleReport]) -> str:
    out = {
        "bundles": [
            {
                "bundle": r.bundle,
                "dialect": r.dialect,
                "profile": r.profile.label,
                "ok": r.ok,
                "events": r.events,
                "truncated": r.truncated,
                "findings": [f.to_dict() for f in r.findings],
                "releases": r.releases,
            }
            for r in reports
        ],
        "ok": all(r.ok for r in reports),
    }
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def render_junit(reports: list[BundleReport]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    failures = sum(1 for r in reports if not r.ok)
    lines.append(f'<testsuites name="rollout-trace validate" tests="{len(reports)}" failures="{failures}">')
    for r in reports:
        errs = [f for f in r.findings if f.severity is Severity.ERROR]
        lines.append(
            f"  <testsuite name={quoteattr(r.bundle)} tests=\"1\" failures=\"{1 if errs else 0}\">"
        )
        lines.append(f"    <testcase classname=\"rollout-trace.{r.profile.label}\" name={quoteattr(r.bundle)}>")
        if errs:
            body = "\n".join(f"{f.invariant} [{f.profile.label}] {_where(f)}: {f.message}" for f in r.findings)
            lines.append(
                f"      <failure message={quoteattr(f'{len(errs)} finding(s)')}>{escape(body)}</failure>"
            )
        lines.append("    </testcase>")
        lines.append("  </testsuite>")
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def render_github(reports: list[BundleReport]) -> str:
    out = []
    for r in reports:
        for f in r.findings:
            level = "error" if f.severity is Severity.ERROR else "warning"
            path = f"{r.bundle.rstrip('/')}/{f.file}" if f.file else r.bundle
            props = f"file={_gh_prop(path)}"
            if f.line is not None:
                props += f",line={f.line}"
            props += f",title={_gh_prop(f.invariant)}"
            out.append(f"::{level} {props}::{_gh_escape(f'[{f.profile.label}] {f.message}')}")
    return "\n".join(out) + ("\n" if out else "")


def print_human(reports: list[BundleReport], file=None) -> None:
    from rich.console import Console

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
    for r in reports:
        errs = sum(f.severity is Severity.ERROR for f in r.findings)
        warns = len(r.findings) - errs
        mark = "[green]ok[/]" if r.ok else "[red]FAIL[/]"
        console.print(
            f"{mark} {escape_markup(r.bundle)}  [dim]dialect {r.dialect or '?'}, profile {r.profile.label}, "
            f"{r.events} events, {errs} error(s), {warns} warning(s)[/]"
        )
        for f in r.findings:
            colour = "red" if f.severity is Severity.ERROR else "yellow"
            console.print(
                f"  [{colour}]{f.invariant}[/] [dim]\\[{f.profile.label}][/] {escape_markup(_where(f))}: "
                f"{escape_markup(f.message)}"
            )
            if f.related_seq is not None:
                console.print(f"    [dim]related event: seq {f.related_seq}[/]")
        if r.truncated:
            console.print("  [yellow]... more findings were dropped (--max-findings)[/]")
        if r.releases is not None:
            console.print(f"  [dim]schema_version {escape_markup(repr(r.releases['schema_version']))}: "
                          f"read by Codex {escape_markup(', '.join(r.releases['readers']) or 'none')}; "
                          f"writable by {escape_markup(', '.join(r.releases['writers']) or 'none')}[/]")
    total = sum(len(r.findings) for r in reports)
    bad = sum(not r.ok for r in reports)
    console.print(f"{len(reports)} bundle(s), {bad} failing, {total} finding(s)")


def escape_markup(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)
