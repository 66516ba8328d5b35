"""user add/list/import: users, plans and Audio Conferencing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import assert_error, assert_json, dump, rows


@pytest.fixture
def bare(cli):
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    return "contoso"


def test_add_update_list(cli, bare) -> None:
    r = cli("user", "add", "Ada@Contoso.com", "--country", "us", "--plan", "domestic", "--conferencing",
            "--name", "Ada Lovelace")
    assert r.exit_code == 0, r.stderr
    assert "added ada@contoso.com" in r.stdout
    assert rows("SELECT upn, name, country, plan, conferencing, licensed FROM users") == [
        ("ada@contoso.com", "Ada Lovelace", "US", "domestic", 1, 0)
    ]
    doc = assert_json(cli("user", "add", "ada@contoso.com", "--country", "GB", "--plan", "payg", "--json"))
    assert doc["created"] is False and doc["country"] == "GB" and doc["plan"] == "payg"
    assert doc["conferencing"] is True and doc["name"] == "Ada Lovelace"  # fields not given stay
    assert cli("user", "add", "ada@contoso.com", "--country", "GB", "--no-conferencing").exit_code == 0
    assert rows("SELECT country, plan, conferencing FROM users") == [("GB", "payg", 0)]
    assert cli("user", "add", "bob@contoso.com", "--country", "US").exit_code == 0
    listed = assert_json(cli("user", "list", "--json"))
    assert [(u["upn"], u["plan"]) for u in listed] == [("ada@contoso.com", "payg"), ("bob@contoso.com", "none")]
    r = cli("user", "list")
    assert "ada@contoso.com" in r.stdout and "bob@contoso.com" in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bad upn", "--country", "US"], "user principal name"),
        (["nobody", "--country", "US"], "user principal name"),
        (["", "--country", "US"], "user principal name"),
        (["a@contoso.com", "--country", "ZZ"], "country"),
        (["a@contoso.com", "--country", "US", "--plan", "gold"], "unknown calling plan"),
    ],
)
def test_bad_user_refused(cli, bare, args: list[str], needle: str) -> None:
    before = dump()
    assert_error(cli("user", "add", *args), needle)
    assert dump() == before


def test_plan_aliases(cli, bare) -> None:
    for upn, plan, stored in [("a@c.com", "Domestic+International", "domestic-international"),
                              ("b@c.com", "pay-as-you-go", "payg"), ("c@c.com", "NONE", "none")]:
        assert cli("user", "add", upn, "--country", "US", "--plan", plan).exit_code == 0
        assert rows("SELECT plan FROM users WHERE upn = ?", upn) == [(stored,)]


def _csv(tmp_path: Path, text: str, *, bom: bool = False, name: str = "users.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_import_booleans_and_bom(cli, bare, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "upn,name,country,plan,conferencing,licensed\r\n"
        "a@contoso.com,A,US,domestic,true,false\r\n"
        "b@contoso.com,B,GB,domestic-international,yes,no\r\n"
        "c@contoso.com,\"Cee, Jr.\",DE,payg,1,0\r\n"
        "d@contoso.com,D,US,,FALSE,TRUE\r\n"
        "e@contoso.com,E,US,none,No,Yes\r\n",
        bom=True,
    )
    doc = assert_json(cli("user", "import", str(path), "--json"))
    assert (doc["added"], doc["updated"], doc["errors"]) == (5, 0, [])
    assert rows("SELECT upn, name, country, plan, conferencing, licensed FROM users ORDER BY upn") == [
        ("a@contoso.com", "A", "US", "domestic", 1, 0),
        ("b@contoso.com", "B", "GB", "domestic-international", 1, 0),
        ("c@contoso.com", "Cee, Jr.", "DE", "payg", 1, 0),
        ("d@contoso.com", "D", "US", "none", 0, 1),
        ("e@contoso.com", "E", "US", "none", 0, 1),
    ]
    assert rows("SELECT count(*) FROM users WHERE licensed = 1 AND licensed_at IS NOT NULL") == [(2,)]
    # Importing again updates.
    path2 = _csv(tmp_path, "upn,country,plan\na@contoso.com,US,payg\nz@contoso.com,US,none\n", name="u2.csv")
    r = cli("user", "import", str(path2))
    assert r.exit_code == 0 and "1 added, 1 updated" in r.stdout
    assert rows("SELECT plan, conferencing FROM users WHERE upn = 'a@contoso.com'") == [("payg", 1)]


def test_import_header_is_case_and_space_insensitive(cli, bare, tmp_path: Path) -> None:
    path = _csv(tmp_path, " UPN , Country ,Plan\nx@contoso.com,US,domestic\n")
    assert cli("user", "import", str(path)).exit_code == 0
    assert rows("SELECT upn, plan FROM users") == [("x@contoso.com", "domestic")]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("upn,country,conferencing\na@c.com,US,true\nb@c.com,US,maybe\n", ["line 3", "maybe"]),
        ("upn,country\na@c.com,US\nb@c.com,XX\n", ["line 3", "XX"]),
        ("upn,country,plan\na@c.com,US,gold\n", ["line 2", "gold"]),
        ("upn,country\na@c.com,US\nnot a upn,US\n", ["line 3"]),
        ("upn,country\na@c.com,US\nA@C.com,US\n", ["line 3", "appears again"]),
        ("upn,country,licensed\na@c.com,US,2\n", ["line 2", "licensed"]),
        ("upn,name\na@c.com,A\n", ["missing column", "country"]),
        ("name,country\nA,US\n", ["missing column", "upn"]),
        ("", ["empty file"]),
    ],
)
def test_bad_file_refused_whole(cli, bare, tmp_path: Path, text: str, needles: list[str]) -> None:
    assert cli("user", "add", "keep@contoso.com", "--country", "US").exit_code == 0
    before = dump()
    path = _csv(tmp_path, text)
    assert_error(cli("user", "import", str(path)), *needles)
    assert dump() == before


def test_bad_row_count_is_reported(cli, bare, tmp_path: Path) -> None:
    path = _csv(tmp_path, "upn,country\na@c.com,XX\nb@c.com,YY\nc@c.com,US\n")
    err = assert_error(cli("user", "import", str(path)), "line 2", "1 more", "nothing imported")
    assert "line 3" not in err or "more" in err
    assert rows("SELECT count(*) FROM users") == [(0,)]


@pytest.mark.parametrize("kind", ["missing", "folder", "utf16", "binary"])
def test_unreadable_files(cli, bare, tmp_path: Path, kind: str) -> None:
    if kind == "missing":
        path = tmp_path / "nope.csv"
    elif kind == "folder":
        path = tmp_path
    elif kind == "utf16":
        path = tmp_path / "u16.csv"
        path.write_bytes("upn,country\na@c.com,US\n".encode("utf-16"))
    else:
        path = tmp_path / "bin.csv"
        path.write_bytes(b"\xff\xfe\xfa\x80upn")
    before = dump()
    assert_error(cli("user", "import", str(path)))
    assert dump() == before


@pytest.mark.parametrize("name", ["[/]", "[bold]B", "[red]x[/red]", "a]b[c"])
def test_names_are_shown_as_typed_never_as_markup(cli, bare, name: str) -> None:
    assert cli("user", "add", "a@contoso.com", "--country", "US", "--name", name).exit_code == 0
    r = cli("user", "list")
    assert r.exit_code == 0, r.stderr
    assert name in r.stdout
    assert cli("tenant", "add", "other", "--name", name, "--country", "US").exit_code == 0
    r = cli("tenant", "list")
    assert r.exit_code == 0 and name in r.stdout


@pytest.mark.parametrize(
    "text",
    [
        "upn,country,name\nx@contoso.com,US," + "a" * 200_000 + "\n",
        'upn,country,name\nx@contoso.com,US,"unterminated\n',
    ],
    ids=["huge-field", "unterminated-quote"],
)
def test_malformed_csv_refused(cli, bare, tmp_path: Path, text: str) -> None:
    before = dump()
    assert_error(cli("user", "import", str(_csv(tmp_path, text))), "line 2", "not valid CSV")
    assert dump() == before


def test_huge_field_refused_even_after_the_csv_limit_was_raised(cli, bare, tmp_path: Path) -> None:
    """The csv module's field limit is process-wide and the call-record readers raise it;
    user import must refuse a huge field on its own."""
    import csv

    limit = csv.field_size_limit()
    csv.field_size_limit(16 * 1024 * 1024)
    try:
        before = dump()
        text = "upn,country,name\nx@contoso.com,US," + "a" * 200_000 + "\n"
        assert_error(cli("user", "import", str(_csv(tmp_path, text))), "line 2", "not valid CSV")
        assert dump() == before
    finally:
        csv.field_size_limit(limit)


# --- user import FILE.xlsx ----------------------------------------------------------------------


def _xlsx(tmp_path: Path, rows: list[list], *, name: str = "users.xlsx", title: str = "Users") -> Path:
    """A real workbook written by openpyxl: ``rows`` on its first sheet, a decoy second sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.create_sheet("Notes").append(["upn", "country"])
    wb["Notes"].append(["never@contoso.com", "US"])
    path = tmp_path / name
    wb.save(path)
    return path


HEADER = ["upn", "name", "country", "plan", "conferencing", "licensed"]


def test_import_xlsx(cli, bare, tmp_path: Path) -> None:
    path = _xlsx(tmp_path, [
        [" UPN ", "Name", "Country", "Plan", "Conferencing", "Licensed"],
        ["a@contoso.com", "A", "US", "domestic", True, False],  # Excel's TRUE and FALSE
        ["b@contoso.com", "B", "GB", "domestic-international", 1, 0],  # numbers
        [None, None, None, None, None, None],  # a blank row, skipped as a blank CSV line is
        ["c@contoso.com", "Cee, Jr.", "de", None, "yes", "TRUE"],
        ["d@contoso.com", None, "US", "payg", None, None],
    ])
    doc = assert_json(cli("user", "import", str(path), "--json"))
    assert (doc["added"], doc["updated"], doc["errors"]) == (4, 0, [])
    assert rows("SELECT upn, name, country, plan, conferencing, licensed FROM users ORDER BY upn") == [
        ("a@contoso.com", "A", "US", "domestic", 1, 0),
        ("b@contoso.com", "B", "GB", "domestic-international", 1, 0),
        ("c@contoso.com", "Cee, Jr.", "DE", "none", 1, 1),
        ("d@contoso.com", "", "US", "payg", 0, 0),
    ]
    again = _xlsx(tmp_path, [["upn", "country", "plan"], ["a@contoso.com", "US", "payg"]], name="again.xlsx")
    r = cli("user", "import", str(again))
    assert r.exit_code == 0 and "0 added, 1 updated" in r.stdout
    assert rows("SELECT plan FROM users WHERE upn = 'a@contoso.com'") == [("payg",)]


def test_a_workbook_is_recognised_by_its_content(cli, bare, tmp_path: Path) -> None:
    path = _xlsx(tmp_path, [HEADER, ["a@contoso.com", "A", "US", "none", False, True]], name="users.csv")
    assert cli("user", "import", str(path)).exit_code == 0
    assert rows("SELECT upn, licensed FROM users") == [("a@contoso.com", 1)]


def test_a_bad_row_in_a_workbook_refuses_it_whole_by_its_sheet_row(cli, bare, tmp_path: Path) -> None:
    assert cli("user", "add", "keep@contoso.com", "--country", "US").exit_code == 0
    before = dump()
    path = _xlsx(tmp_path, [
        HEADER,
        ["a@contoso.com", "A", "US", "none", True, True],
        [],  # row 3: blank
        ["b@contoso.com", "B", "US", 7, True, True],  # row 4: a number where a plan goes
        ["c@contoso.com", "C", "US", "none", 2, True],  # row 5: 2 is no yes or no
    ])
    err = assert_error(cli("user", "import", str(path)), "line 4", "unknown calling plan '7'", "1 more",
                       "nothing imported")
    assert "line 2" not in err
    assert dump() == before
    doc = cli("user", "import", str(path), "--json")
    assert doc.exit_code == 1
    assert '"line 5: conferencing \'2\' is not true/false, yes/no or 1/0"' in doc.stdout


@pytest.mark.parametrize(
    ("rows_", "needles"),
    [
        ([["upn", "name"], ["a@c.com", "A"]], ["missing column", "country"]),
        ([[], ["a@c.com", "US"]], ["empty file"]),
        ([["upn", "country", None, "extra"], ["a@c.com", "US"]], ["more than 3 columns"]),
        ([["upn", "country", "name"], ["a@c.com", "US", "n" * 5000]], ["line 2", "a cell of 5,000 characters"]),
        ([["upn", "country"], ["a@c.com", "US"], ["b@c.com", "US"], ["c@c.com", "US"], ["d@c.com", "US"]],
         ["more than 3 rows"]),
    ],
    ids=["missing-column", "empty-header", "too-wide", "huge-cell", "too-long"],
)
def test_bounds_and_header_of_a_workbook(cli, bare, tmp_path: Path, monkeypatch, rows_, needles) -> None:
    from credits_cli import users

    monkeypatch.setattr(users, "MAX_SHEET_ROWS", 3)
    monkeypatch.setattr(users, "MAX_SHEET_COLUMNS", 3)
    before = dump()
    assert_error(cli("user", "import", str(_xlsx(tmp_path, rows_))), *needles)
    assert dump() == before


def test_rows_up_to_the_bound_are_read(cli, bare, tmp_path: Path, monkeypatch) -> None:
    from credits_cli import users

    monkeypatch.setattr(users, "MAX_SHEET_ROWS", 3)
    path = _xlsx(tmp_path, [["upn", "country"], ["a@c.com", "US"], ["b@c.com", "US"], ["c@c.com", "US"], [], []])
    assert cli("user", "import", str(path)).exit_code == 0
    assert rows("SELECT count(*) FROM users") == [(3,)]


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("kind", ["corrupt-zip", "truncated", "zip-of-csv", "text-named-xlsx", "broken-sheet"])
def test_unreadable_workbooks(cli, bare, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "users.xlsx"
    if kind == "corrupt-zip":
        path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 100)
    elif kind == "truncated":
        good = _xlsx(tmp_path, [HEADER, ["a@contoso.com", "A", "US", "none", True, True]], name="good.xlsx")
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "zip-of-csv":
        _zip(path, {"users.csv": b"upn,country\na@c.com,US\n"})
    elif kind == "text-named-xlsx":
        path.write_text("upn,country\na@c.com,US\n")
    else:
        _zip(path, {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook><sheets>"})
    before = dump()
    assert_error(cli("user", "import", str(path)), "not a readable Excel workbook")
    assert dump() == before


def test_an_old_xls_workbook_is_named(cli, bare, tmp_path: Path) -> None:
    path = tmp_path / "users.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    assert_error(cli("user", "import", str(path)), "Excel 97-2003", "save it as .xlsx or CSV")


def test_a_workbook_over_the_size_limits_is_refused(cli, bare, tmp_path: Path, monkeypatch) -> None:
    from credits_cli import users

    path = _xlsx(tmp_path, [HEADER, ["a@contoso.com", "A", "US", "none", True, True]])
    monkeypatch.setattr(users, "MAX_FILE_BYTES", 1000)
    assert_error(cli("user", "import", str(path)), "too large")
    monkeypatch.setattr(users, "MAX_FILE_BYTES", 50 * 1024 * 1024)
    monkeypatch.setattr(users, "MAX_UNPACKED_BYTES", 2000)
    assert_error(cli("user", "import", str(path)), "unpacks to more than 2,000 bytes")
    assert rows("SELECT count(*) FROM users") == [(0,)]


def test_import_never_touches_licenses_it_does_not_name_and_says_what_it_takes(cli, tenant, tmp_path) -> None:
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("user", "add", "bob@contoso.com", "--country", "US").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com", "bob@contoso.com").exit_code == 0
    no_column = tmp_path / "plans.csv"
    no_column.write_text("upn,country,plan\nada@contoso.com,US,domestic\nbob@contoso.com,US,\n")
    r = cli("user", "import", str(no_column), "--json")
    doc = json.loads(r.stdout)
    assert (doc["updated"], doc["unchanged"], doc["licenses_taken"], doc["plans_changed"]) == (1, 1, 0, 1)
    licensed = {u["upn"] for u in json.loads(cli("license", "list", "--json").stdout)}
    assert licensed == {"ada@contoso.com", "bob@contoso.com"}
    taking = tmp_path / "take.csv"
    taking.write_text("upn,country,licensed\nada@contoso.com,US,no\nbob@contoso.com,US,\n")
    before = json.loads(cli("user", "list", "--json").stdout)
    r = cli("user", "import", str(taking), "--dry-run")
    assert r.exit_code == 0 and "dry run" in r.stdout and "ada@contoso.com: licensed True -> False" in r.stdout
    assert "1 user(s) would lose the Communications Credits license" in " ".join(r.stderr.split())
    assert json.loads(cli("user", "list", "--json").stdout) == before  # nothing written
    r = cli("user", "import", str(taking))
    assert "taken away: 1" in r.stdout and "lost the Communications Credits license" in " ".join(r.stderr.split())
    assert {u["upn"] for u in json.loads(cli("license", "list", "--json").stdout)} == {"bob@contoso.com"}
