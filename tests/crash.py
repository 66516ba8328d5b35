"""Kill a command with SIGKILL at random moments, run it again, and compare.

Reusable by any command that must survive a crash:

* :func:`kill_and_rerun` starts the command, kills it after a seeded random
  delay (several times; a run that finishes before its kill just counts as
  finished), calls ``check`` after every interrupted run (e.g. "the purchase is
  all there or not at all"), then runs it to the end until ``done`` says so.
* :func:`assert_same_as_clean_run` prepares two databases the same way, runs
  the command once cleanly on the first and through :func:`kill_and_rerun` on
  the second, and compares ``snapshot`` of both: the final state of a crashed
  and rerun import must equal that of one clean run, exactly.

Delays are drawn from ``random.Random(seed)`` within the span a clean run of
the command took (measured, unless given), so the kills land in start-up,
in the middle of the work, and near the commit. A command that resumes (an
import finishes what an earlier run committed) has less to do on every run:
given ``progress``, each kill after the first is drawn within the time the
work left should take, so it still lands in the middle of the work, and the
kills end once the work is done.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import procs


@dataclass
class CrashReport:
    killed: int = 0  # runs killed while still running
    finished: int = 0  # runs that ended before their kill came
    reruns: int = 0  # runs to the end after the kills
    delays: list[float] = field(default_factory=list)
    final: subprocess.CompletedProcess[str] | None = None


def timed_run(
    db: str, args: list[str], env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    began = time.monotonic()
    done = procs.run(db, *args, env=env, check=False)
    return time.monotonic() - began, done


def kill_and_rerun(
    db: str,
    args: list[str],
    *,
    seed: int,
    kills: int = 5,
    span: tuple[float, float] | None = None,
    env: dict[str, str] | None = None,
    check: Callable[[int], None] | None = None,
    done: Callable[[subprocess.CompletedProcess[str]], bool] | None = None,
    max_reruns: int = 10,
    progress: Callable[[], float] | None = None,
) -> CrashReport:
    """Kill ``credits ARGS`` ``kills`` times at random, then rerun it until ``done``.

    ``span`` is the (earliest, latest) kill delay in seconds; ``check(i)`` runs
    after the i-th kill (the database must be consistent at every point);
    ``done(result)`` decides whether a rerun finished the work (default: exit 0).
    ``progress()``, for a command that resumes, is the share of the work already
    in the database (0 to 1): the first kill is drawn from the whole span, each
    later one from 0.9 of the share of it still to do.
    """
    rng = random.Random(seed)
    lo, hi = span if span is not None else (0.0, 3.0)
    report = CrashReport()
    for i in range(kills):
        if progress is not None and i > 0:
            left = 1.0 - progress()
            if left <= 0:
                break  # all done: a kill now would only interrupt a run with nothing to do
            delay = lo + rng.random() * 0.9 * (hi - lo) * left
        else:
            delay = rng.uniform(lo, hi)
        report.delays.append(delay)
        child = procs.start(db, *args, env=env)
        try:
            child.wait(timeout=delay)
            report.finished += 1
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
            report.killed += 1
        finally:
            if child.stdout:
                child.stdout.close()
            if child.stderr:
                child.stderr.close()
        if check is not None:
            check(i)
    finished = done or (lambda r: r.returncode == 0)
    for _ in range(max_reruns):
        report.reruns += 1
        result = procs.run(db, *args, env=env, check=False)
        report.final = result
        if finished(result):
            return report
    raise AssertionError(f"credits {' '.join(args)} never finished after the kills: {report.final}")


def assert_same_as_clean_run(
    tmp_path: Path,
    args: list[str] | Callable[[str], list[str]],
    *,
    setup: Callable[[str], None],
    snapshot: Callable[[str], Any],
    seed: int,
    kills: int = 5,
    env: Callable[[str], dict[str, str]] | None = None,
    check: Callable[[str, int], None] | None = None,
    progress: Callable[[Any, Any], float] | None = None,
) -> tuple[Any, CrashReport]:
    """Clean run vs. killed-and-rerun run on identically prepared databases: same snapshot.

    ``progress(now, expected)``, for a command that resumes: the share of the work done, from the
    crashed database's snapshot and the clean run's (see :func:`kill_and_rerun`).
    """
    clean, crashed = procs.new_database(tmp_path, "clean"), procs.new_database(tmp_path, "crashed")
    setup(clean)
    setup(crashed)

    def argv(db: str) -> list[str]:
        return args(db) if callable(args) else list(args)

    took, result = timed_run(clean, argv(clean), env(clean) if env else None)
    assert result.returncode == 0, result.stderr
    expected = snapshot(clean)
    report = kill_and_rerun(
        crashed,
        argv(crashed),
        seed=seed,
        kills=kills,
        span=(0.05, took * 1.1),
        env=env(crashed) if env else None,
        check=(lambda i: check(crashed, i)) if check else None,
        progress=(lambda: progress(snapshot(crashed), expected)) if progress else None,
    )
    assert snapshot(crashed) == expected
    return expected, report
