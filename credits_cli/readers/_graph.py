"""What a Microsoft Graph call-log row means, in its JSON and its CSV form alike.

Rows of ``getPstnCalls`` (Microsoft Graph v1.0 and beta ``pstnCallLogRow``)
and ``getDirectRoutingCalls`` (``directRoutingLogRow``). The fields read:

============================  ===================================================
``id``                        the row's unique id (GUID): ``external_id``
``correlationId``             Direct Routing; the id of a leg when ``id`` is absent
``callType``                  ``user_in``..., ``oc_*``, ``ByotIn``... (lower-cased)
``startDateTime``             else ``inviteDateTime`` (a Direct Routing attempt)
``duration``                  whole seconds
``userPrincipalName``         lower-cased; ``No data`` is no user
``calleeNumber``              the priced number (see below)
``usageCountryCode``          the user's country
``conferenceId``              Audio Conferencing calls
``charge``                    Microsoft's charge, exact (a Double in v1.0, Decimal in beta)
``connectionCharge``          Microsoft's connection fee, exact
``currency``                  ISO 4217
``licenseCapability``         MCOPSTNPP, MCOPSTN1, FREECALL...
``operator``                  ``Microsoft`` or the Operator Connect operator
============================  ===================================================

Keys are matched without regard to case: Graph writes camelCase, the Graph
PowerShell SDK's objects (and so ``ConvertTo-Json`` and ``Export-Csv`` of
them) PascalCase. Beta adds ``otherPartyCountryCode`` and
``administrativeUnitInfos``; other fields are ignored.

``calleeNumber`` is taken as the priced number for every call type: the number
dialed on an outbound or dial-out call, the tenant's number that was called
on an inbound one (beta: "number of the user or bot who received the call").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from credits_cli.i18n import N_, _
from credits_cli.phrases import Phrase
from credits_cli.readers import _common as c
from credits_cli.readers.base import CallRecord
from credits_cli.readers.direct_routing import leg_id

_MS_DATE = re.compile(r"/Date\((\d{1,14})(?:[+-]\d{4})?\)/")
#: Keys of a row that say it is a call-log row (any one of them).
CALL_KEYS = frozenset({"id", "calltype", "calleenumber", "callernumber", "startdatetime", "callid", "correlationid",
                       "usageid", "licensecapability"})

#: What other Graph logs' rows hold, and what such a file is: a file of these is refused whole.
OTHER_LOGS = (
    (frozenset({"smsid", "smstype", "smsunits", "sentdatetime"}), N_("a Graph SMS log (getSmsLog), not a call log")),
    (frozenset({"totalcalls", "totalcallcharge", "totalcallseconds"}),
     N_("a Graph audio conferencing dial-out report (getPstnOnlineMeetingDialoutReport), not a call log")),
    (frozenset({"blockdatetime", "userblockmode", "blockreason", "remediationid"}),
     N_("a Graph PSTN blocked users log (getPstnBlockedUsersLog), not a call log")),
    (frozenset({"sessions", "modalities", "joinweburl", "organizer", "participants_v2", "lastmodifieddatetime"}),
     N_("a Graph callRecord list (call quality records), not the PSTN call log")),
)
#: The same, from a page's ``@odata.context`` (which names the row type).
OTHER_CONTEXTS = (
    ("smslogrow", OTHER_LOGS[0][1]),
    ("pstnonlinemeetingdialoutreport", OTHER_LOGS[1][1]),
    ("pstnblockeduserslogrow", OTHER_LOGS[2][1]),
)


def kind_of_row(keys: Mapping[str, object] | set[str]) -> str | None:
    """None for a call-log row (or a broken one: its faults are its own); else what the row looks like.

    Another log's own fields are looked for first: an SMS log row has an ``id`` too.
    """
    for marks, what in OTHER_LOGS:
        if marks.intersection(keys):
            return Phrase(what)
    if not keys:
        # TRANSLATORS: {{}} is printed as {} (an empty JSON object).
        return Phrase(N_("JSON whose first row is empty ({{}}), not a Graph call log"))
    if CALL_KEYS.intersection(keys):
        return None
    shown = ", ".join(repr(k)[:40] for k in sorted(str(k) for k in keys)[:6])
    # TRANSLATORS: {fields} are the first JSON keys of the row, kept as they are.
    return Phrase(N_("JSON without call rows (the first row's fields are {fields}), not a Graph call log"),
                  fields=shown)


def kind_of_context(context: object) -> str | None:
    if isinstance(context, str):
        low = context.lower()
        for mark, what in OTHER_CONTEXTS:
            if mark in low:
                return Phrase(what)
    return None


def converter(source: str) -> Callable[[Mapping[str, object], int], CallRecord]:
    """``convert(row, line)`` for rows whose keys are lower-case; ValueError names the faulty field."""

    def convert(row: Mapping[str, object], line: int) -> CallRecord:
        get = row.get
        kind, inbound, direct = c.call_type(_text(get("calltype"), "callType"), "callType")
        duration = get("duration")
        if duration is None or duration == "":
            raise ValueError(_("duration is missing"))
        seconds = c.parse_duration(duration, "duration")
        when = _text(get("startdatetime"), "startDateTime") or _text(get("invitedatetime"), "inviteDateTime")
        start = _time(when, "startDateTime")
        upn = c.clean_upn(_text(get("userprincipalname"), "userPrincipalName"), "userPrincipalName")
        callee = _text(get("calleenumber"), "calleeNumber")
        try:
            number = c.parse_number(callee, required=not inbound and not direct)
        except ValueError:
            if not direct:
                raise
            number = ""  # Direct Routing: what the SBC sent may be a name or an extension
        call_id = _text(get("id"), "id")
        if call_id:
            call_id = c.clean_text(call_id, "id")
        else:
            correlation = _text(get("correlationid"), "correlationId")
            if not correlation:
                raise ValueError(_("id is empty"))
            invite = _text(get("invitedatetime"), "inviteDateTime")
            call_id = leg_id(c.clean_text(correlation, "correlationId"), _time(invite, "inviteDateTime") if invite
                             else None, start, kind, _text(get("callernumber"), "callerNumber").strip(),
                             _text(get("calleenumber"), "calleeNumber").strip(), upn, seconds)
        conference = _text(get("conferenceid"), "conferenceId")
        return c.make_record(
            source,
            line,
            call_id,
            upn,
            start,
            seconds,
            kind,
            number,
            direct,
            c.country(_text(get("usagecountrycode"), "usageCountryCode")),
            c.clean_text(conference, "conferenceId", required=False) or None if conference else None,
            c.parse_amount(_amount(get("charge")), "charge"),
            c.parse_amount(_amount(get("connectioncharge")), "connectionCharge"),
            c.currency(_text(get("currency"), "currency"), "currency"),
            c.capability(_text(get("licensecapability"), "licenseCapability"), "licenseCapability"),
            c.operator(_text(get("operator"), "operator") or None, "operator"),
        )

    return convert


def _text(value: object, key: str) -> str:
    """A string field: "" for null or absent; a number as its text; anything else is the row's fault."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(_("{what} is not a string").format(what=key))
    return str(value)


def _amount(value: object) -> object:
    return None if value == "" else value


def _time(text: str, what: str) -> datetime:
    if text.startswith("/Date("):
        return _ms_date(text, what)
    return c.parse_start(text, what)


def _ms_date(text: str, what: str) -> datetime:
    """Windows PowerShell 5.1's ``ConvertTo-Json`` writes a date as ``/Date(1572566408258)/``: milliseconds
    since 1970 UTC (a ``+0100``-style suffix, when present, only tells the writer's zone)."""
    match = _MS_DATE.fullmatch(text)
    if match is None:
        raise ValueError(_("{what} {value} is not an ISO 8601 date or time").format(what=what, value=repr(text[:40])))
    value = datetime(1970, 1, 1) + timedelta(milliseconds=int(match.group(1)))
    if not c.MIN_YEAR <= value.year <= c.MAX_YEAR:
        raise ValueError(_("{what} {value} is out of range ({first}-{last})").format(
            what=what, value=repr(text[:40]), first=c.MIN_YEAR, last=c.MAX_YEAR))
    return value
