"""What scripts read never changes with the language: every ``--json`` / ``-o json`` document and every
``-o csv`` listing is the same bytes in English, Russian, Kazakh and Chinese, and so are the exit codes
(SPEC: the language is for people)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Commands that print for scripts, each run in every language on the same books.
FOR_SCRIPTS: list[tuple[str, ...]] = [
    ("balance", "--json"),
    ("ledger", "-o", "json"),
    ("ledger", "-o", "csv"),
    ("calls", "-o", "json", "--limit", "0"),
    ("calls", "-o", "csv", "--limit", "0"),
    ("user", "list", "-o", "csv"),
    ("license", "list", "-o", "json"),
    ("tenant", "list", "-o", "csv"),
    ("tenant", "show", "-o", "json"),
    ("admin", "list", "-o", "json"),
    ("rates", "list", "-o", "csv"),
    ("notifications", "-o", "json"),
    ("overview", "-o", "json"),
    ("overview", "-o", "csv"),
    ("changes", "-o", "csv"),
    ("report", "--json"),
    ("report", "--all-tenants", "--json"),
    ("recommend", "--json"),
    ("reconcile", "--json", "--limit", "0"),
    ("verify", "--json"),
    ("autorecharge", "show", "--json"),
    ("payment", "show", "--json"),
    ("rates", "quote", "+442079460123", "--seconds", "90", "--json"),
    ("rate-cdrs", str(ROOT / "examples" / "PSTN.calls.2026-10-01.csv"), "--dry-run", "--json"),
    ("topup", "1,5", "--json"),  # refused: the exit code, not the words
]


@pytest.mark.parametrize("lang", ["ru", "kk", "zh_CN"])
def test_script_output_is_the_same_in_every_language(cli, office, lang: str) -> None:
    for args in FOR_SCRIPTS:
        english = cli("--lang", "en", *args)
        other = cli("--lang", lang, *args)
        assert other.exit_code == english.exit_code, (args, other.stderr)
        assert other.stdout == english.stdout, args
        if english.exit_code == 0:
            assert english.stdout.strip(), args


def test_people_output_does_change(cli, office) -> None:
    """The control: the same books said for people differ between English and Russian, and a refusal is
    said in the chosen language."""
    assert cli("--lang", "ru", "balance").stdout != cli("--lang", "en", "balance").stdout
    refused = cli("--lang", "ru", "topup", "1,5")
    assert refused.exit_code == 1 and "точкой" in refused.stderr
