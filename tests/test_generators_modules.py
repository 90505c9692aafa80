"""The corruption operators live in modules named after the validator's rule modules:
the operator of an invariant declared in ``validate/rules/X.py`` is in ``generators/_ops_X.py``."""

from __future__ import annotations

import importlib
import pkgutil

from rollout_trace_kit import generators
from rollout_trace_kit.generators import CORRUPTIONS
from rollout_trace_kit.validate import rules
from rollout_trace_kit.validate.findings import Invariant

OPS_PREFIX = "_ops_"
HELPERS = {"_ops_common"}  # shared pieces, no operator


def rule_module_of() -> dict[str, str]:
    """invariant ID -> the rule module (``rules/NAME.py``) that declares it."""
    owner: dict[str, str] = {}
    for info in pkgutil.iter_modules(rules.__path__):
        module = importlib.import_module(f"{rules.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Invariant):
                owner.setdefault(value.id, info.name)
    return owner


def test_every_operator_is_in_the_module_named_after_its_rule_module():
    owner = rule_module_of()
    misplaced = {inv: (op.operator.__module__.rsplit(".", 1)[1], owner[inv])
                 for inv, op in CORRUPTIONS.items()
                 if op.operator.__module__.rsplit(".", 1)[1] != OPS_PREFIX + owner[inv]}
    assert misplaced == {}, "invariant: (operator module, rule module)"


def test_operator_modules_and_rule_modules_correspond_one_to_one():
    ops = {m.name.removeprefix(OPS_PREFIX) for m in pkgutil.iter_modules(generators.__path__)
           if m.name.startswith(OPS_PREFIX) and m.name not in HELPERS}
    owner = rule_module_of()
    with_operators = {owner[inv] for inv in CORRUPTIONS}
    assert ops == with_operators
    rule_modules = {m.name for m in pkgutil.iter_modules(rules.__path__)}
    assert ops <= rule_modules and len(ops) >= 8


def test_building_cases_does_not_import_hypothesis():
    """A fuzz campaign builds bundles with build_bundle and the operators only: Hypothesis (about a
    second to import) loads when a strategy is first used, and the strategies stay importable."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from rollout_trace_kit.conformance.reducer.cases import build_case, plan_cases\n"
            "for spec in plan_cases('v2', 6, 0): build_case(spec)\n"
            "assert 'hypothesis' not in sys.modules, 'hypothesis imported'\n"
            "from rollout_trace_kit.generators import bundles, payloads\n"
            "assert 'hypothesis' in sys.modules and callable(bundles) and callable(payloads)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
