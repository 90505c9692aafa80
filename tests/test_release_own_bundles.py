"""Real bundles judged as the release that wrote them: clean in strict with `--release` (warnings allowed).

The writer rules come from what releases write (issue 18, item 5): a shipped bundle, and every
bundle a fresh probe run of an installed release writes, passes `validate --profile strict
--release R` with R its writer; a run killed with SIGKILL aside ("unfinished" is right there).
Shipped bundles are found through the `corpus:` resolver (wherever the corpus lives).
"""

from __future__ import annotations

import pytest

from rollout_trace_kit.model import releases as rel
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate.cli import UsageError, bundles_of_paths

PROBED_INSTALLED = ("0.164.0", "0.169.0", "0.169.1", "0.171.0")


def _shipped() -> list[tuple[str, object]]:
    out = []
    for r in rel.table():
        try:
            found = bundles_of_paths([f"corpus:codex-{r.version}"])
        except UsageError:
            continue
        out += [(r.version, b) for b in found]
    return out


SHIPPED = _shipped()


def _errors(report) -> list[str]:
    return [f"{f.invariant} {f.file}:{f.line} {f.message}" for f in report.findings if f.severity.value == "error"]


def test_the_corpus_resolver_finds_shipped_bundles():
    assert len(SHIPPED) >= 30 and {v for v, _ in SHIPPED} >= {"0.164.0", "0.169.0", "0.171.0"}


@pytest.mark.parametrize("release,bundle", SHIPPED, ids=[f"{v}-{b.name}" for v, b in SHIPPED])
def test_shipped_bundle_is_clean_in_strict_as_its_writer(release, bundle):
    report = validate_bundle(bundle, Options(profile=Profile.STRICT, release=release))
    assert report.ok, _errors(report)


@pytest.mark.codex
@pytest.mark.parametrize("release", PROBED_INSTALLED)
def test_fresh_probe_bundles_are_clean_in_strict_as_their_writer(tmp_path, release):
    from rollout_trace_kit.codex.install import ensure_codex
    from rollout_trace_kit.codex.probe import KILLED_SCENARIOS
    from rollout_trace_kit.codex.probe_scenarios import PROBE_SCENARIOS, run_repeated

    binary = ensure_codex(release)
    assert binary is not None, f"could not install Codex {release}"
    dirty, judged = [], 0
    for name, scenario in PROBE_SCENARIOS.items():
        run = run_repeated(binary, scenario, tmp_path / name)
        for b in run.bundles:
            report = validate_bundle(b, Options(profile=Profile.STRICT, release=release))
            judged += 1
            if name in KILLED_SCENARIOS:
                assert not report.ok  # the recording was cut short: "unfinished" is right
                assert "RELEASE.TERMINAL" in report.ids(), _errors(report)
            elif not report.ok:
                dirty.append((name, b.name, _errors(report)[:3]))
    assert judged >= len(PROBE_SCENARIOS)
    assert not dirty, dirty
