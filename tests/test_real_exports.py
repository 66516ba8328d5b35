"""Real exports as they come (SPEC §5-6): every documented call type, Operator Connect, what Microsoft
leaves unpriced, bots' calls, Microsoft's own charge kept and debited (``--charges export``), other
currencies, and the notes a file carries. Files built from Microsoft's published examples and column
lists are in tests/exports/ (see the readers' tests for how they read); here they go through the real
command and the database is read back.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import assert_json, pin_now, rows

EXPORTS = Path(__file__).resolve().parent / "exports"
ROOT = Path(__file__).resolve().parent.parent
D = Decimal
NOW = "2026-11-27T09:00:00Z"

GBP_RATES = """\
name: fabrikam-gbp
currency: GBP
decimals: 4
outbound:
  - {prefix: "44", name: "United Kingdom", per_minute: "0.0150"}
  - {prefix: "33", name: "France", per_minute: "0.0300"}
tollfree:
  - {prefix: "44800", name: "UK freephone", per_minute: "0.0200"}
"""


@pytest.fixture
def contoso(cli, tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Contoso (US, USD) with the people of tests/exports/teams_every_call_type.csv."""
    pin_now(monkeypatch, NOW)
    assert cli("topup", "100").exit_code == 0
    for upn, args in (
        ("richard.malk@contoso.com", ["--country", "US", "--plan", "domestic"]),
        ("lise.meitner@contoso.com", ["--country", "US", "--plan", "payg", "--conferencing"]),
        ("grace.hopper@contoso.com", ["--country", "US", "--plan", "payg"]),
    ):
        assert cli("user", "add", upn, *args).exit_code == 0
        assert cli("license", "assign", upn).exit_code == 0


def calls_by_id() -> dict[str, dict]:
    return {c["external_id"][-2:]: c for c in assert_json(cli_json("calls", "--limit", "0"))["calls"]}


_cli = {}


def cli_json(*args: str):  # noqa: ANN201 - the CliRunner result
    return _cli["run"](*args, "--json")


@pytest.fixture(autouse=True)
def _remember_cli(cli) -> None:
    _cli["run"] = cli


def test_every_documented_call_type_is_rated_and_none_rejected(cli, contoso) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    r = cli("rate-cdrs", str(EXPORTS / "teams_every_call_type.csv"), "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["rejected"] == 0 and doc["rows_read"] == 13
    c = calls_by_id()
    # a user's own three-way call is a Calling Plan call: from the domestic pool, not dial-out
    assert (c["03"]["kind"], c["03"]["status"], c["03"]["pool"]) == ("outbound", "included", "domestic:US")
    assert (c["04"]["kind"], c["05"]["kind"]) == ("outbound", "outbound")
    assert (c["06"]["kind"], c["06"]["status"]) == ("tollfree", "charged")  # conf_in to a toll-free bridge
    assert c["07"]["kind"] == "dialout"  # conf_out: Audio Conferencing dial-out
    # bots' calls are the tenant's whatever their user columns hold: a resource account's UPN, "No data"
    assert (c["09"]["kind"], c["09"]["status"]) == ("tollfree", "charged")
    assert c["10"]["status"] == "charged" and c["10"]["user"] == ""
    assert c["11"]["status"] in ("charged", "free")
    assert all(x["reason"] not in ("unknown_user", "unlicensed") for x in c.values())
    # what Microsoft left unpriced is free
    assert (c["12"]["status"], c["12"]["reason"], c["12"]["charge"]) == ("free", "freecall", "0.0000")
    # Microsoft's own charge is kept beside ours, exactly
    kept = rows("SELECT ms_charge, ms_connection_fee, ms_currency, capability FROM calls "
                "WHERE external_id LIKE '%13'")
    assert kept == [(2300, 100, "USD", "MCOPSTNPP")]
    assert cli("verify").exit_code == 0


def test_an_operator_connect_tenants_export_exits_0_and_is_carriers(cli, monkeypatch, tmp_path: Path) -> None:
    pin_now(monkeypatch, NOW)
    assert cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "GB", "--currency", "GBP").exit_code == 0
    table = tmp_path / "gbp.yaml"
    table.write_text(GBP_RATES)
    assert cli("rates", "load", str(table)).exit_code == 0
    r = cli("rate-cdrs", str(EXPORTS / "operator_connect.csv"), "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["statuses"]["carrier"] == 6 and doc["total_charged"] == "0.0000" and doc["rejected"] == 0


def test_a_graph_row_carried_by_an_operator_is_carrier(cli, contoso, tmp_path: Path) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    row = {"id": "0b8c6a90-0000-4000-8000-000000000001", "userPrincipalName": "grace.hopper@contoso.com",
           "startDateTime": "2026-11-05T10:00:00Z", "duration": 600, "callType": "user_out",
           "calleeNumber": "+442079460123", "charge": 0, "connectionCharge": 0, "currency": "USD",
           "licenseCapability": "MCOEV", "operator": "Contoso Telecom"}
    path = tmp_path / "oc.json"
    path.write_text(json.dumps({"value": [row, row | {"id": "0b8c6a90-0000-4000-8000-000000000002",
                                                      "operator": "Microsoft"}]}))
    doc = assert_json(cli("rate-cdrs", str(path), "--json"))
    assert doc["statuses"]["carrier"] == 1 and doc["statuses"]["charged"] == 1


def test_emergency_and_short_numbers_are_never_placed_by_a_guess(cli, contoso, tmp_path: Path) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    path = tmp_path / "short.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "e1,grace.hopper@contoso.com,2026-11-05T10:00:00Z,300,outbound,911\n"
                    "e2,grace.hopper@contoso.com,2026-11-05T11:00:00Z,300,outbound,+911\n"
                    "e3,grace.hopper@contoso.com,2026-11-05T12:00:00Z,300,outbound,411\n")
    assert cli("rate-cdrs", str(path)).exit_code == 0
    c = {x["external_id"]: x for x in assert_json(cli("calls", "--json"))["calls"]}
    assert (c["e1"]["status"], c["e1"]["reason"], c["e1"]["country"]) == ("free", "emergency", None)
    assert (c["e2"]["status"], c["e2"]["country"]) == ("free", None)  # 911 is not India's +91 1...
    assert (c["e3"]["status"], c["e3"]["reason"], c["e3"]["country"]) == ("unrated", "short_number", None)


def test_charges_export_debits_what_microsoft_charged(cli, contoso) -> None:
    """A tenant with no contract table of its own: the export's Charge plus Connection Fee is debited,
    under the same rules of licenses and balance."""
    r = cli("rate-cdrs", str(EXPORTS / "teams_every_call_type.csv"), "--charges", "export", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    # 0.59 (toll-free bridge) + 8.16 (dial-out) + 0.06 + 0.04 + 0.02 (bots) + 0.23 + 0.01 (a fee)
    assert doc["charges"] == "export" and doc["total_charged"] == "9.1100"
    assert doc["balance_after"] == "90.8900"
    c = calls_by_id()
    assert (c["13"]["status"], c["13"]["charge"]) == ("charged", "0.2400")
    assert c["02"]["status"] == "included"  # Microsoft charged nothing: its plan covered it
    assert c["01"]["status"] == "free"  # a call in to a number that is not toll-free
    assert cli("verify").exit_code == 0


def test_another_currency_is_a_warning_in_table_mode_and_a_rejected_row_in_export_mode(
    cli, contoso, tmp_path: Path
) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    text = (EXPORTS / "teams_every_call_type.csv").read_text(encoding="utf-8").splitlines()
    text[13] = text[13].replace(",USD,MCOPSTNPP", ",EUR,MCOPSTNPP")  # row 13 priced in euros
    path = tmp_path / "eur.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    r = cli("rate-cdrs", str(path), "--dry-run")
    assert r.exit_code == 0
    assert "1 row(s) were priced by Microsoft in another currency than USD" in " ".join(r.stderr.split())
    r = cli("rate-cdrs", str(path), "--charges", "export", "--rejects", str(tmp_path / "rej.csv"))
    assert r.exit_code == 3
    assert "priced by Microsoft in EUR; the tenant keeps USD" in (tmp_path / "rej.csv").read_text()


def test_a_graph_page_with_more_to_download_is_rated_with_a_warning(cli, contoso, tmp_path: Path,
                                                                    monkeypatch) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    page = json.loads((EXPORTS / "graph_beta_page.json").read_text())
    for i, row in enumerate(page["value"]):  # Microsoft's example is of 2019: bring it into this year
        row["startDateTime"] = f"2026-11-0{i + 1}T10:00:00Z"
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    r = cli("rate-cdrs", str(path))
    assert r.exit_code == 0, r.stderr
    assert "the download is incomplete" in " ".join(r.stderr.split())


def test_a_json_that_is_not_a_call_log_is_one_line(cli, contoso) -> None:
    from tests.helpers import assert_error, dump

    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    before = dump()
    assert_error(cli("rate-cdrs", str(EXPORTS / "graph_sms_log.json")), "sms")
    assert dump() == before


def test_direct_routing_legs_that_share_a_correlation_id_are_each_kept_once(cli, contoso) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    first = assert_json(cli("rate-cdrs", str(EXPORTS / "direct_routing_legs.csv"), "--json"))
    # ten rows: nine legs (two pairs share a CorrelationId) and one leg exported twice
    assert (first["rows_read"], first["statuses"]["carrier"], first["duplicates"]) == (10, 9, 1)
    legs = rows("SELECT external_id FROM calls WHERE external_id LIKE 'f45e9a25-9f94-46e7-a457-84f5940efde9#%'")
    assert len(legs) == 2
    again = assert_json(cli("rate-cdrs", str(EXPORTS / "direct_routing_legs.csv"), "--json"))
    assert again["duplicates"] == 10 and again["statuses"]["carrier"] == 0
