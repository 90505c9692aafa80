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


@pytest.mark.parametrize("junk", [b"\xff\xfe not UTF-8", b"{}" + b" " * (1 << 20)], ids=["not UTF-8", "larger than the schema"])
def test_a_file_in_the_way_is_stale_then_rewritten(tmp_path, capsys, junk):
    out = tmp_path / "s"
    assert main(["schema", "--out", str(out)]) == 0
    target = out / "v2" / "event.schema.json"
    good = target.read_bytes()
    target.write_bytes(junk)
    capsys.readouterr()
    assert main(["schema", "--check", "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"stale: {target}\n"
    assert main(["schema", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n" and target.read_bytes() == good


def test_check_escapes_the_out_directory_it_names(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "--check", "--out", "s\x1b[31m\x07"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert err.splitlines()[0] == "stale: s\\x1b[31m\\x07/v1/event.schema.json"


def test_a_fifo_in_the_way_is_an_environment_error_not_a_hang(tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "s"
    (out / "v1").mkdir(parents=True)
    os.mkfifo(out / "v1" / "event.schema.json")  # opening it to write would wait for a reader forever
    # a child with a timeout: a regression fails here instead of hanging the suite
    done = subprocess.run([sys.executable, "-m", "rollout_trace_kit", "schema", "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr == f"rollout-trace schema: cannot write {out}/v1/event.schema.json: it is a FIFO\n"
