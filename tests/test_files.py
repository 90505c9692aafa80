"""The one way the kit opens files it does not control: regular files only, reads capped."""

from __future__ import annotations

import os

import pytest

from rollout_trace_kit import files


def test_a_regular_file_is_read_whole_under_its_cap(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    got = files.read_capped(p, 3)
    assert (got.data, got.problem, got.why, got.size) == (b"abc", None, None, 3)


@pytest.mark.parametrize("keep_prefix,data", [(True, b"abcd"), (False, None)])
def test_a_file_over_its_cap(tmp_path, keep_prefix, data):
    p = tmp_path / "f"
    p.write_bytes(b"abcdefgh")
    got = files.read_capped(p, 4, keep_prefix=keep_prefix)
    assert got.data == data and got.why == files.TOO_LARGE and got.size == 8
    assert "larger than the 4 bytes" in (got.problem or "")


def test_a_sparse_file_over_its_cap_is_not_read(tmp_path):
    p = tmp_path / "f"
    with open(p, "wb") as f:
        f.truncate(1 << 40)  # a terabyte of hole: reading it would never end in time
    got = files.read_capped(p, 1 << 20, keep_prefix=False)
    assert got.data is None and got.why == files.TOO_LARGE and got.size == 1 << 40


def test_a_fifo_is_refused_without_blocking(tmp_path):
    p = tmp_path / "fifo"
    os.mkfifo(p)
    got = files.read_capped(p, 10)  # no writer: a blocking open would never return
    assert got.data is None and got.why == files.IRREGULAR and got.problem == "a FIFO"
    with pytest.raises(files.NotRegular) as e:
        files.open_regular(p)
    assert e.value.kind == "a FIFO"
    assert files.file_problem(p) == (files.IRREGULAR, "a FIFO") and not files.is_regular(p)


@pytest.mark.parametrize("target,kind", [("/dev/zero", "a device"), (".", "a directory")])
def test_symlinks_to_devices_and_directories_are_refused(tmp_path, target, kind):
    p = tmp_path / "link"
    p.symlink_to(target if target.startswith("/") else tmp_path)
    got = files.read_capped(p, 10)
    assert got.data is None and got.why == files.IRREGULAR and got.problem == kind


def test_symlinks_are_followed_unless_asked_not_to(tmp_path):
    (tmp_path / "real").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert files.read_capped(tmp_path / "link", 10).data == b"x"
    got = files.read_capped(tmp_path / "link", 10, follow_symlinks=False)
    assert got.data is None and got.why == files.IRREGULAR and got.problem == "a symlink"


def test_missing_and_dangling(tmp_path):
    """Both are missing (``why``); a link to nothing says so in words, as every reader reports it."""
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for name, words in (("nowhere", "missing"), ("dangling", files.DANGLING)):
        got = files.read_capped(tmp_path / name, 10)
        assert got.missing and got.data is None and got.problem == words
        assert files.file_problem(tmp_path / name) == (files.MISSING, words)
        assert files.lacks(words) == ("does not exist" if name == "nowhere" else "is a dangling symbolic link")


@pytest.mark.parametrize("ring", [1, 2])
def test_a_symlink_loop_is_said_to_be_a_loop_never_missing(tmp_path, ring):
    """A link to itself or a ring of two: ELOOP, said as such (the validator's messages come from here)."""
    names = [tmp_path / f"l{i}" for i in range(ring)]
    for i, name in enumerate(names):
        name.symlink_to(names[(i + 1) % ring].name)
    got = files.read_capped(names[0], 10)
    assert got.data is None and not got.missing and got.problem == files.LOOP == "a symbolic link loop (ELOOP)"
    assert files.file_problem(names[0]) == (files.UNREADABLE, files.LOOP)
    assert files.loops(names[0]) and not files.loops(tmp_path / "nowhere")


def _listed_cases(tmp_path):
    """Name -> (path, cap): files read_listed may meet, each as read_capped must judge it."""
    cases = {}
    for name, data, cap in [("small", b'{"a":1}', 100), ("empty", b"", 100), ("at the cap", b"x" * 8, 8),
                            ("over the cap", b"x" * 9, 8), ("the read's size", b"x" * files.LISTED_READ, 1 << 30),
                            ("longer than one read", b"y" * (files.LISTED_READ + 5), 1 << 30)]:
        (tmp_path / name).write_bytes(data)
        cases[name] = (str(tmp_path / name), cap)
    os.mkfifo(tmp_path / "fifo")  # swapped in after the listing: read_listed must not call it an empty file
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "small")
    for name in ("fifo", "dir", "link", "missing"):
        cases[name] = (str(tmp_path / name), 100)
    cases["/dev/zero"] = ("/dev/zero", 100)
    cases["/dev/null"] = ("/dev/null", 100)
    return cases


def test_a_listed_file_is_read_as_read_capped_reads_it(tmp_path):
    for name, (path, cap) in _listed_cases(tmp_path).items():
        fast, slow = files.read_listed(path, cap), files.read_capped(path, cap, follow_symlinks=False, keep_prefix=False)
        assert (fast.data, fast.problem, fast.size, fast.why) == (slow.data, slow.problem, slow.size, slow.why), name
