"""Behaviour keyed by the model's vocabulary: every dispatch table has a rule for every class.

The tables are found, not listed: every module of the package that builds one is imported,
and each table it registered is checked against its union as ``model/types.py`` declares it
(``TypeExpr`` or ``NamedType``). A class added to a union fails here, once per table that
lacks a rule for it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import runpy
from pathlib import Path

import pytest

from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.dispatch import (
    NAMED_TYPE_CLASSES,
    TABLES,
    TYPE_EXPR_CLASSES,
    Table,
    named_type_table,
    type_expr_table,
)
from rollout_trace_kit.model.types import ArrayOf, Nullable

from .conftest import ROOT

BUILDERS = (type_expr_table.__name__, named_type_table.__name__)


def _sources() -> dict[str, Path]:
    """Module name -> source file, for every module of the package (each root setup.py maps)."""
    roots: dict[str, str] = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_roots")["ROOTS"]
    out = {}
    for root in roots:
        package = importlib.import_module(root)
        for m in pkgutil.walk_packages(package.__path__, f"{root}."):
            spec = importlib.util.find_spec(m.name)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                out[m.name] = Path(spec.origin)
    return out


SOURCES = _sources()
TABLE_MODULES = sorted(
    name for name, path in SOURCES.items()
    if name != "rollout_trace_kit.model.dispatch" and any(f"{b}(" in path.read_text(encoding="utf-8") for b in BUILDERS)
)


def _all_tables() -> list[Table]:
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return list(TABLES)


def test_the_walkers_build_their_tables_in_the_modules_found():
    # the six walkers the review named, and the two that had tables first
    for module in ("compilers.json_schema", "compilers.msgspec_types", "compilers.canonical", "generators._leaf",
                   "docsgen.examples", "docsgen.model_pages", "generators._widen", "conformance.reducer.coverage"):
        assert f"rollout_trace_kit.{module}" in TABLE_MODULES
    assert len(_all_tables()) >= 2 * 8


@pytest.mark.parametrize("table", _all_tables(), ids=lambda t: t.concern)
def test_every_table_has_a_rule_for_each_class_of_its_union(table):
    assert table.union in (TYPE_EXPR_CLASSES, NAMED_TYPE_CLASSES)
    assert table.missing() == [], f"{table.concern}: no rule for {table.missing()}"
    assert table.extra() == [], f"{table.concern}: rules for classes outside the union: {table.extra()}"


def test_the_concerns_are_distinct():
    concerns = [t.concern for t in _all_tables()]
    assert len(concerns) == len(set(concerns))


def test_the_unions_hold_every_class_the_model_uses():
    # the unions are the tables' reference: a class the dialects use outside them would escape the
    # check (the unions may hold more: no dialect uses Bool today)
    used_exprs: set[type] = set()
    used_named = {type(t) for d in DIALECTS.values() for t in (*d.types, d.payload)}
    todo = [f.type for d in DIALECTS.values() for s in (d.envelope, d.manifest, *d.types, d.payload)
            for f in (*getattr(s, "fields", ()), *(f for v in getattr(s, "variants", ()) for f in v.fields))]
    while todo:
        t = todo.pop()
        used_exprs.add(type(t))
        if isinstance(t, Nullable):
            todo.append(t.inner)
        elif isinstance(t, ArrayOf):
            todo.append(t.item)
    assert used_exprs <= set(TYPE_EXPR_CLASSES)
    assert used_named <= set(NAMED_TYPE_CLASSES)


def test_a_class_without_a_rule_is_a_type_error_naming_the_concern():
    class NewExpr:
        pass

    table = Table("a concern", TYPE_EXPR_CLASSES + (NewExpr,), {c: (lambda t: c) for c in TYPE_EXPR_CLASSES})
    assert table.missing() == ["NewExpr"]
    with pytest.raises(TypeError, match="a concern: no rule for NewExpr"):
        table[NewExpr]


def _chains(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """Functions that test a value against three or more classes of one union with isinstance."""
    unions = ({c.__name__ for c in TYPE_EXPR_CLASSES}, {c.__name__ for c in NAMED_TYPE_CLASSES})
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        tested: set[str] = set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                arg = node.args[1]
                tested |= {e.id for e in (arg.elts if isinstance(arg, ast.Tuple) else [arg]) if isinstance(e, ast.Name)}
        for names in unions:
            if len(tested & names) >= 3:
                out.append((fn.name, sorted(tested & names)))
    return out


def test_no_isinstance_chain_walks_the_vocabulary():
    # a third isinstance against one union's classes in a function is a chain: make it a table
    found = {name: chains for name, path in SOURCES.items() if (chains := _chains(ast.parse(path.read_text(encoding="utf-8"))))}
    assert found == {}
