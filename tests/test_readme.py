"""README's "A first session" runs as written from the repository root: every command succeeds."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import pin_now

ROOT = Path(__file__).resolve().parent.parent


def first_session() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A first session", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README's first session has no sh block"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]
    assert all(words[0] == "credits" for words in commands), commands
    return [words[1:] for words in commands]


def test_the_first_session_runs_as_written(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The repository root as the session sees it (its files), in a folder of the test's own, so that
    # what the session writes (rejects.csv, october.xlsx) does not land in the checkout.
    for name in ("examples", "rates"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    pin_now(monkeypatch, "2026-11-05T10:00:00Z")
    session = first_session()
    assert len(session) >= 10
    for args in session:
        for word in args:  # the files it reads exist in the repository
            if word.startswith(("examples/", "rates/")):
                assert (ROOT / word).is_file(), f"{word} does not exist"
        r = cli(*args)
        assert r.exit_code == 0, f"credits {' '.join(args)}: exit {r.exit_code}\n{r.stdout}\n{r.stderr}"
    assert (tmp_path / "october.xlsx").is_file() and (tmp_path / "rejects.csv").is_file()
