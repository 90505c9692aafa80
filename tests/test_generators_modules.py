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
