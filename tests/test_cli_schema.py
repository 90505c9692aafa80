"""`rollout-trace schema`: where it writes, and what it says when it cannot (the drift itself: test_validate_cli)."""

from __future__ import annotations

import pytest

from rollout_trace_kit.cli import main


@pytest.mark.parametrize("where", ["under /proc", "a regular file", "a file where a dialect directory goes"])
def test_an_out_directory_that_cannot_be_written_is_an_environment_error(tmp_path, capsys, where):
    if where == "under /proc":
        out = "/proc/nope"  # mkdir fails there even for root, whom access() lets write anywhere
    elif where == "a regular file":
        (tmp_path / "s").write_text("x")
        out = str(tmp_path / "s")
    else:
        (tmp_path / "s").mkdir()
        (tmp_path / "s" / "v1").write_text("x")
        out = str(tmp_path / "s")
    assert main(["schema", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rollout-trace schema: cannot ") and out in err
