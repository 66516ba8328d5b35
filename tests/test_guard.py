"""The one formula guard of the workbook and the CSV files (credits_cli/reports/guard.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credits_cli.reports import guard
from credits_cli.reports.csv import safe


@pytest.mark.parametrize("text", ["=1+1", "+44 20 7946 0000", "-2", "@SUM(A1)", "\tTAB", "\rCR", "="])
def test_formula_starts(text):
    assert guard.is_formula_like(text)
    assert guard.csv_text(text) == "'" + text
    assert safe(text) == "'" + text
    assert guard.cell_text(text) == (text, True)
    assert not guard.is_plain(text)


@pytest.mark.parametrize("text", ["plain", "a=b", " =1", "#hashtag", "", "'quoted", "\u00e9t\u00e9", "1-2"])
def test_harmless_text(text):
    assert not guard.is_formula_like(text) and not guard.is_error_like(text)
    assert guard.csv_text(text) == text
    assert guard.cell_text(text) == (text, False)
    assert guard.is_plain(text)


@pytest.mark.parametrize("text", ["#N/A", "#n/a", "#DIV/0!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#VALUE!",
                                  "#SPILL!", "#CALC!", "#GETTING_DATA"])
def test_error_values_are_quoted_in_a_cell(text):
    assert guard.is_error_like(text)
    assert guard.cell_text(text) == (text, True)
    assert not guard.is_plain(text)
    assert guard.csv_text(text) == text  # the CSV files guard formulas only, as they always have


def test_characters_xml_cannot_hold_become_replacement_characters():
    text = "a\x00b\x07c\x0bd\x1fe\ud800f\udfffg\ufffeh\uffffi\tj\nk\rl"
    assert guard.xml_clean(text) == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh\ufffdi\tj\nk\rl"
    assert guard.cell_text("\x07=1") == ("\ufffd=1", False)  # what starts the cleaned text decides
    assert guard.cell_text("=\x07") == ("=\ufffd", True)
    assert not guard.is_plain("bell\x07")


def test_long_text_is_cut_to_one_cell():
    assert guard.cut("x" * 40000) == "x" * guard.MAX_CELL_TEXT
    assert guard.cell_text("=" + "x" * 40000) == ("=" + "x" * (guard.MAX_CELL_TEXT - 1), True)
    # Excel counts UTF-16 code units: a character outside the BMP counts two, and a pair is never split
    snowmen = "\U0001f600" * 20000
    cut = guard.cut(snowmen)
    assert cut == "\U0001f600" * (guard.MAX_CELL_TEXT // 2)
    assert guard.cut("x" + snowmen) == "x" + "\U0001f600" * (guard.MAX_CELL_TEXT // 2)
    assert guard.cut("x" * 20000) == "x" * 20000


@given(st.text(max_size=40))
def test_plain_text_is_written_as_it_is(text):
    clean, quoted = guard.cell_text(text)
    if guard.is_plain(text):
        assert (clean, quoted) == (text, False)
    assert guard.XML_ILLEGAL.search(clean) is None
    assert quoted == (guard.is_formula_like(clean) or guard.is_error_like(clean))
