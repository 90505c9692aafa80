"""Project defaults from ``[tool.rollout-trace]`` in ``pyproject.toml``.

The nearest ``pyproject.toml`` at or above the working directory is read (as ruff and
black do). Keys are option names of the subcommands (``profile``, ``dialect``,
``known``, ``format``, ...) and become their defaults; a table named after a
subcommand (``[tool.rollout-trace.fuzz-reducer]``) overrides the top level for it.
``release`` names the Codex release the bundles come from: its dialect (from the
model's release ranges) becomes the default ``--dialect``. Options given on the
command line win. Relative paths are relative to the ``pyproject.toml``.

    [tool.rollout-trace]
    profile = "strict"
    release = "0.169.0"
    known = "tests/known-results/codex-0.169.0.json"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .progress import delay_value, seconds_value
from .suggest import unknown_message

PATH_KEYS = {"known", "repro_dir", "keep", "output"}


class ConfigError(Exception):
    """The ``[tool.rollout-trace]`` table is wrong (exit 2)."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after each option's help, except where there is no default."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or not action.option_strings or default is None or default is False
                or default == [] or default == argparse.SUPPRESS):
            return text
        return text + " (default: %(default)s)"


MAX_PYPROJECT_BYTES = 16 << 20  # far more than any project's pyproject.toml


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load(start: Path | None = None) -> tuple[dict, Path | None]:
    """The ``[tool.rollout-trace]`` table and the file it came from ({} and None without one)."""
    path = find_pyproject(start)
    if path is None:
        return {}, None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib
    from .files import read_capped

    # the working directory may be a checkout someone else made: a regular file, capped
    got = read_capped(path, MAX_PYPROJECT_BYTES, keep_prefix=False)
    if got.data is None:
        raise ConfigError(f"{path}: {got.problem}")
    try:
        data = tomllib.loads(got.data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as e:
        raise ConfigError(f"{path}: {e}") from None
    table = data.get("tool", {}).get("rollout-trace", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.rollout-trace] must be a table")
    return table, path


def dialect_for_release(release: str) -> str:
    from .model import DIALECTS
    from .model.types import release_key

    try:
        key = release_key(release)
    except ValueError:
        raise ConfigError(f"release {release!r} is not a version such as 0.169.0") from None
    for d in DIALECTS.values():
        lo, hi = d.releases
        if release_key(lo) <= key <= release_key(hi):
            return d.name
    spans = ", ".join(f"{d.name}: {d.releases[0]} to {d.releases[1]}" for d in DIALECTS.values())
    raise ConfigError(f"release {release} writes no dialect the kit knows ({spans})")


def _options(sub: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in sub._actions if a.option_strings and a.dest != "help"}


def _all_actions(subparsers: dict[str, argparse.ArgumentParser], dest: str) -> list[argparse.Action]:
    return [o for sub in subparsers.values() for d, o in _options(sub).items() if d == dest]


def apply(subparsers: dict[str, argparse.ArgumentParser], table: dict, origin: Path) -> None:
    """Set the defaults of each subcommand from the table; unknown keys are errors."""
    sections = {k: v for k, v in table.items() if isinstance(v, dict)}
    top = {k: v for k, v in table.items() if not isinstance(v, dict)}
    for name in sections:
        if name not in subparsers:
            raise ConfigError(f"{origin}: [tool.rollout-trace.{name}]: {unknown_message('subcommand', [name], subparsers)}")
    every_key = {dest for sub in subparsers.values() for dest in _options(sub)} | {"release"}
    for name, sub in subparsers.items():
        options = _options(sub)
        merged = {**top, **sections.get(name, {})}
        for key in sections.get(name, {}):
            if key.replace("-", "_") not in options and key != "release":
                raise ConfigError(f"{origin}: [tool.rollout-trace.{name}]: "
                                  f"{unknown_message('key', [key], [o.replace('_', '-') for o in options])}")
        defaults = {}
        for key, value in merged.items():
            dest = key.replace("-", "_")
            if dest == "release":
                if "release" in options:  # a subcommand that takes the release itself
                    defaults["release"] = str(value)
                elif "dialect" in options and "dialect" not in merged:
                    defaults["dialect"] = dialect_for_release(str(value))
                continue
            if dest not in every_key:
                raise ConfigError(f"{origin}: [tool.rollout-trace]: "
                                  f"{unknown_message('key', [key], sorted(k.replace('_', '-') for k in every_key))}")
            action = options.get(dest)
            if action is None:
                continue  # an option of another subcommand
            if action.choices is not None and value not in action.choices:
                if key not in sections.get(name, {}) and any(
                    value in (o.choices or ()) for o in _all_actions(subparsers, dest)
                ):
                    continue  # a top-level value for the subcommands that accept it (format = "sarif")
                choices = list(dict.fromkeys(str(c) for o in _all_actions(subparsers, dest) for c in (o.choices or ())))
                raise ConfigError(f"{origin}: {key} = {value!r}: choose from {', '.join(choices)}")
            if action.type in (seconds_value, delay_value):  # a TOML float may be nan or inf: checked as on the command line
                try:
                    value = action.type(str(value))
                except argparse.ArgumentTypeError as e:
                    raise ConfigError(f"{origin}: {key} = {value!r}: {e}") from None
            if dest in PATH_KEYS and isinstance(value, str) and value != "-":
                value = str(origin.parent / value)
            defaults[dest] = value
        sub.set_defaults(**defaults)
