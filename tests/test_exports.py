"""Files shaped after Microsoft's published examples and column lists, with what they must read as.

Each file in tests/exports/ has ``<name>.expected.json`` beside it: the values
the reader yields (records, row errors, notes), or ``{"error": ...}`` for a
file refused whole. ``CREDITS_UPDATE_GOLDEN=1`` rewrites the expectations
(review the diff). Where each file comes from:

- ``teams_every_call_type.csv``: the Teams PSTN usage export's columns in
  Microsoft's order ("Fields in the export", Teams PSTN usage report) with a
  row of every Calling Plans call type the page lists, bot calls with the
  resource account's UPN (capability ``MCOEV_VIRTUALUSER``), with ``No data``
  and with empty user columns, a ``FREECALL`` row and a priced one;
- ``operator_connect.csv``: an Operator Connect tenant's export, ``oc_*`` types;
- ``graph_v1_page.json``: the Microsoft Graph v1.0 ``getPstnCalls`` response
  example (its row as published, two more), ``@odata.nextLink`` after
  ``value`` as in that example: a :class:`Note`;
- ``graph_beta_page.json``: the beta example, ``@odata.nextLink`` before
  ``value``, with beta's ``otherPartyCountryCode`` and ``administrativeUnitInfos``;
- ``graph_export_csv.csv``: the v1.0 rows as Windows PowerShell 5.1's
  ``Export-Csv`` writes them (``#TYPE`` line, every field quoted, camelCase columns);
- ``graph_out_file_utf16.json``: the v1.0 page as ``ConvertTo-Json | Out-File``
  writes it in 5.1 (UTF-16LE with a BOM, CRLF, its indentation);
- ``graph_direct_routing.json`` and ``graph_direct_routing_export_csv.csv``:
  the ``getDirectRoutingCalls`` example row (``ByotIn``, a ``failureDateTime``
  of year 1) and a transfer leg sharing its ``correlationId``;
- ``direct_routing_legs.csv``: the Direct Routing export's columns, the legs
  of Microsoft's "Shared correlation ID" scenario (an inbound call
  transferred) sharing one CorrelationId, every ``dr_*`` type, an SBC that
  sent a name as the caller, ``No data`` users, and the first leg exported twice;
- ``graph_sms_log.json`` and ``graph_sms_rows.json`` (beta ``getSmsLog``
  example), ``graph_dialout_report.json`` (``getPstnOnlineMeetingDialoutReport``),
  ``graph_blocked_users.json`` (``getPstnBlockedUsersLog``, whose published
  example has trailing commas, removed here): not call logs, refused in one line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from credits_cli.errors import InvalidInput
from credits_cli.readers import open_records
from credits_cli.readers.base import CallRecord, Columns, Item, Note, RowError

HERE = Path(__file__).resolve().parent / "exports"
UPDATE = os.environ.get("CREDITS_UPDATE_GOLDEN") == "1"
FILES = sorted(p.name for p in HERE.iterdir() if not p.name.endswith(".expected.json"))


def as_json(item: CallRecord | RowError | Note) -> dict[str, object]:
    if isinstance(item, Note):
        return {"source": item.source, "note": item.text}
    if isinstance(item, RowError):
        return {"source": item.source, "line": item.line, "error": item.reason}
    out = dataclasses.asdict(item)
    out["start"] = item.start.isoformat()
    for key in ("charge", "connection_fee"):
        out[key] = None if out[key] is None else str(out[key])
    return out


def expanded(items: Iterable[Item]) -> Iterator[CallRecord | RowError | Note]:
    """What rating is given, with calls read in columns as records again (in line order)."""
    for item in items:
        if isinstance(item, Columns):
            yield from item.items()
        else:
            yield item


def read(name: str) -> object:
    try:
        fmt, items = open_records(HERE / name, notes=True)
        return {"format": fmt, "items": [as_json(i) for i in expanded(items)]}
    except InvalidInput as exc:
        return {"error": str(exc)}


@pytest.mark.parametrize("name", FILES)
def test_export_reads_as_expected(name: str) -> None:
    got = read(name)
    expected = HERE / (name.rsplit(".", 1)[0] + ".expected.json")
    if UPDATE:
        expected.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(expected.read_text(encoding="utf-8"))


def records(name: str) -> list[CallRecord]:
    return [i for i in open_records(HERE / name)[1] if isinstance(i, CallRecord)]


def test_every_documented_calling_plans_type_is_read_and_kept_as_exported() -> None:
    got = records("teams_every_call_type.csv")
    assert {r.call_type for r in got} == {"user_in", "user_out", "user_out_conf", "user_out_transfer",
                                          "user_out_forwarding", "conf_in", "conf_out", "unassigned_in", "ucap_in",
                                          "ucap_out"}
    bots = [r for r in got if r.call_type.startswith("ucap")]
    assert [r.user_upn for r in bots] == ["aa-mainline@contoso.com", "", ""]  # resource account, No data, empty
    assert {r.capability for r in got} >= {"MCOEV_VIRTUALUSER", "FREECALL", "MCOPSTNPP", "MCOMEETADD", "MCOPSTN1"}
    priced = next(r for r in got if r.external_id.endswith("13"))
    assert (str(priced.charge), str(priced.connection_fee), priced.currency) == ("0.23", "0.01", "USD")


def test_operator_connect_types_and_their_direction() -> None:
    got = {r.call_type: r for r in records("operator_connect.csv")}
    assert set(got) == {"oc_user_in", "oc_user_out", "oc_user_out_conf", "oc_fmc_in", "oc_fmc_out", "oc_ucap_in"}
    assert not any(r.direct_routing for r in got.values())
    # Inbound: the number is the one that received the call (Caller ID), as for user_in.
    assert got["oc_user_in"].number == "+442079460101" and got["oc_fmc_in"].number == "+447700900123"
    assert got["oc_user_out"].number == "+442079460777"


def test_graph_json_csv_and_utf16_forms_read_the_same_calls() -> None:
    def plain(name: str) -> list[CallRecord]:
        return [dataclasses.replace(r, source="", line=0) for r in records(name)]

    assert plain("graph_v1_page.json") == plain("graph_export_csv.csv") == plain("graph_out_file_utf16.json")
    assert plain("graph_direct_routing.json") == plain("graph_direct_routing_export_csv.csv")


def test_a_page_with_a_next_link_is_read_with_a_note() -> None:
    for name in ("graph_v1_page.json", "graph_beta_page.json"):
        items = list(open_records(HERE / name, notes=True)[1])
        assert isinstance(items[-1], Note) and "incomplete" in items[-1].text
        assert all(isinstance(i, CallRecord) for i in items[:-1])
        # Asked without notes (what rating does until it collects them): the same calls, no note.
        assert list(open_records(HERE / name)[1]) == items[:-1]
    assert not any(isinstance(i, Note) for i in open_records(HERE / "graph_out_file_utf16.json", notes=True)[1])


def test_direct_routing_legs_sharing_a_correlation_id_are_records_of_their_own() -> None:
    got = records("direct_routing_legs.csv")
    shared = [r for r in got if r.external_id.startswith("f45e9a25-9f94-46e7-a457-84f5940efde9#")]
    assert [r.call_type for r in shared] == ["dr_in", "dr_out_user_transfer", "dr_in"]
    assert shared[0].external_id != shared[1].external_id  # two legs, two ids
    assert shared[0].external_id == shared[2].external_id  # the same leg exported twice: the same id
    again = records("direct_routing_legs.csv")
    assert [r.external_id for r in again] == [r.external_id for r in got]  # deterministic
    assert all(r.direct_routing for r in got)


@pytest.mark.parametrize(("name", "what"), [
    ("graph_sms_log.json", "looks like a Graph SMS log (getSmsLog), not a call log"),
    ("graph_sms_rows.json", "looks like a Graph SMS log (getSmsLog), not a call log"),
    ("graph_dialout_report.json", "looks like a Graph audio conferencing dial-out report"),
    ("graph_blocked_users.json", "looks like a Graph PSTN blocked users log"),
])
def test_other_graph_logs_are_refused_in_one_line(name: str, what: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(what)) as caught:
        open_records(HERE / name)
    assert str(caught.value).startswith(f"{name}: ") and "\n" not in str(caught.value)


def test_the_spill_to_disk_keeps_microsofts_billing_fields() -> None:
    """rating/ordering.py pickles records field by field when an import outgrows memory: all sixteen come back."""
    from credits_cli.rating.ordering import in_start_order

    got = records("teams_every_call_type.csv") + records("graph_v1_page.json")
    spilled = list(in_start_order(got, lambda error: None, memory_records=3))
    assert spilled == sorted(got, key=lambda r: r.start)
    assert {(r.charge, r.connection_fee, r.currency, r.capability, r.operator) for r in spilled} == {
        (r.charge, r.connection_fee, r.currency, r.capability, r.operator) for r in got}
    assert any(r.operator == "Contoso Telecom" for r in spilled)
