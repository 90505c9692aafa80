"""interrupts.stop_workers: a pool whose worker was killed halfway through sending a result still
shuts down (CI's run of the fleet's SIGTERM test hung there)."""

import subprocess
import sys
import textwrap

import pytest

# The worker writes the start of a result message (a length of 1,000 bytes, then 10 of them) to
# the pool's results pipe, says so through a file, and sleeps: the manager thread waits in recv
# for the other 990 bytes. stop_workers kills it; shutdown must then return.
SCRIPT = textwrap.dedent("""
    import multiprocessing, os, struct, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from rollout_trace_kit import interrupts

    MARK = sys.argv[1]

    def half_a_result():
        RESULTS._writer._send(struct.pack("!i", 1000) + b"x" * 10)
        open(MARK, "w").close()
        time.sleep(600)

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        RESULTS = pool._result_queue  # inherited by the worker, forked at the submit below
        future = pool.submit(half_a_result)
        for _ in range(6000):
            if os.path.exists(MARK):
                break
            time.sleep(0.01)
        else:
            sys.exit("the worker never wrote its half message")
        interrupts.stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        print(type(future.exception()).__name__)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a fork-context pool")
def test_a_pool_with_half_a_result_in_its_pipe_shuts_down(tmp_path):
    script = tmp_path / "half.py"
    script.write_text(SCRIPT)
    try:
        out = subprocess.run([sys.executable, str(script), str(tmp_path / "mark")], capture_output=True,
                             text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("shutdown waited for the rest of a message no worker will send")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "BrokenProcessPool"
