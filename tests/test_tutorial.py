"""The producer tutorial (docs/guides/producer-tutorial.md): every step runs, and what each
step's last command prints is exactly the text block shown after it."""

from __future__ import annotations

import re

from .conftest import ROOT
from .test_docs import EXPECT, _run

TUTORIAL = ROOT / "docs" / "guides" / "producer-tutorial.md"
FENCE = re.compile(r"^```(sh|text)\n(.*?)^```$", re.M | re.S)


def steps(markdown: str) -> list[tuple[list[tuple[str, int]], str | None]]:
    """(the commands of a ```sh block with their exit status, the ```text block right after it)."""
    fences = [(m.group(1), m.group(2)) for m in FENCE.finditer(markdown)]
    out = []
    for i, (lang, body) in enumerate(fences):
        if lang != "sh":
            continue
        cmds = []
        for line in body.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                e = EXPECT.search(line)
                cmds.append((line[: e.start()] if e else line, int(e.group(1)) if e else 0))
        shown = fences[i + 1][1] if i + 1 < len(fences) and fences[i + 1][0] == "text" else None
        out.append((cmds, shown))
    return out


def test_every_step_prints_what_the_tutorial_shows(tmp_path):
    all_steps = steps(TUTORIAL.read_text(encoding="utf-8"))
    assert len(all_steps) >= 5 and all(shown is not None for _, shown in all_steps)
    statuses = []
    for cmds, shown in all_steps:
        for cmd, status in cmds:
            proc = _run(cmd, tmp_path)
            assert proc.returncode == status, f"`{cmd}` exited {proc.returncode}, not {status}:\n{proc.stdout}{proc.stderr}"
        statuses.append(proc.returncode)
        assert proc.stdout + proc.stderr == shown, f"`{cmd}` printed:\n{proc.stdout}{proc.stderr}"
    assert statuses[0] == 1 and statuses[-1] == 0  # from a failing bundle to a valid one


def test_the_tutorial_is_in_the_nav():
    assert "guides/producer-tutorial.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
