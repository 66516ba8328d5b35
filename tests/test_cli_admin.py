"""admin add/list/remove: who is notified, with the roles of DOMAIN.md."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, assert_json, dump, rows


@pytest.fixture
def bare(cli):
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    return "contoso"


@pytest.mark.parametrize(
    ("role", "slug"),
    [
        ("billing-admin", "billing-admin"),
        ("Billing Administrator", "billing-admin"),
        ("  BILLING ADMINISTRATOR ", "billing-admin"),
        ("global-admin", "global-admin"),
        ("teams-communications-admin", "teams-communications-admin"),
    ],
)
def test_role_by_slug_or_full_name(cli, bare, role: str, slug: str) -> None:
    r = cli("admin", "add", "Ops@Contoso.com", "--role", role)
    assert r.exit_code == 0, r.stderr
    assert rows("SELECT email, role FROM admins") == [("ops@contoso.com", slug)]


def test_unknown_role_refused_with_the_list(cli, bare) -> None:
    before = dump()
    err = assert_error(cli("admin", "add", "a@contoso.com", "--role", "god"), "unknown role 'god'")
    assert "billing-admin" in err and "global-admin" in err
    assert dump() == before


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@c.com", "", "a@b.com,c@d.com", "<a@b.com>"])
def test_bad_email_refused(cli, bare, email: str) -> None:
    before = dump()
    assert_error(cli("admin", "add", email, "--role", "billing-admin"), "e-mail")
    assert dump() == before


@pytest.mark.parametrize(
    ("email", "needle"),
    [
        ("ops\x07@contoso.com", "control character (U+0007)"),
        ("ops@contoso.com\x00", "control character (U+0000)"),
        ("ops@contoso.com\r\nBcc: all@contoso.com", "control character (U+000D)"),
        ("\tops@contoso.com", "control character (U+0009)"),
        ("ops\x7f@contoso.com", "control character (U+007F)"),
        ("ops\x85@contoso.com", "control character (U+0085)"),
        ("ops\x9b31m@contoso.com", "control character (U+009B)"),
        ("ops@contoso.com\u2028", "line separator (U+2028)"),
        ("ops\u200b@contoso.com", "invisible character (U+200B)"),
        ("ops\u202e@contoso.com", "invisible character (U+202E)"),
    ],
)
def test_control_characters_in_an_address_are_refused(cli, bare, email: str, needle: str) -> None:
    before = dump()
    err = assert_error(cli("admin", "add", email, "--role", "billing-admin"), "not an e-mail address", needle)
    assert not any(c in err for c in "\x00\x07\x7f\x85\x9b\u2028\u200b\u202e"), "shown escaped"
    assert dump() == before


@pytest.mark.parametrize(
    "email",
    [
        "ops(comment)@contoso.com",  # a header parser drops the comment: sent to ops@contoso.com
        "group:ops@contoso.com",  # read as a group: sent to ops@contoso.com
        "ops[1]@contoso.com",
        "o\\ps@contoso.com",
        "ops@contoso.com.",  # the To: header becomes <>
        "ops@contoso..com",
        ".ops@contoso.com",
        "o..ps@contoso.com",
    ],
)
def test_addresses_smtplib_would_change_are_refused(cli, bare, email: str) -> None:
    before = dump()
    assert_error(cli("admin", "add", email, "--role", "billing-admin"), "not an e-mail address")
    assert dump() == before


@pytest.mark.parametrize("email", ["o'brien+credits@contoso.com", "jörg@müller.de", "  Ops@Contoso.com "])
def test_unusual_but_good_addresses_are_kept(cli, bare, email: str) -> None:
    r = cli("admin", "add", email, "--role", "billing-admin")
    assert r.exit_code == 0, r.stderr
    assert rows("SELECT email FROM admins") == [(email.strip().lower(),)]


def test_add_list_change_role_remove(cli, bare) -> None:
    assert cli("admin", "add", "b@contoso.com", "--role", "billing-admin").exit_code == 0
    assert cli("admin", "add", "a@contoso.com", "--role", "Global Administrator").exit_code == 0
    listed = assert_json(cli("admin", "list", "--json"))
    assert [(d["email"], d["role"]) for d in listed] == [("a@contoso.com", "global-admin"),
                                                          ("b@contoso.com", "billing-admin")]
    assert listed[0]["role_name"] == "Global (Company) Administrator"
    # Adding again changes the role, no duplicate.
    assert cli("admin", "add", "B@contoso.com", "--role", "global-admin").exit_code == 0
    assert rows("SELECT email, role FROM admins ORDER BY email") == [("a@contoso.com", "global-admin"),
                                                                      ("b@contoso.com", "global-admin")]
    r = cli("admin", "list")
    assert "a@contoso.com" in r.stdout and "Global (Company) Administrator" in r.stdout
    assert assert_json(cli("admin", "remove", "A@contoso.com", "--yes", "--json")) == {"removed": "a@contoso.com"}
    assert rows("SELECT email FROM admins") == [("b@contoso.com",)]
    before = dump()
    assert_error(cli("admin", "remove", "a@contoso.com"), "not an admin")
    assert dump() == before


def test_no_admins(cli, bare) -> None:
    r = cli("admin", "list")
    assert r.exit_code == 0 and "no admins" in r.stdout


@pytest.mark.parametrize(
    ("role", "slug"),
    [
        ("Global (Company) Administrator", "global-admin"),
        ("Global Administrator", "global-admin"),
        ("Company Administrator", "global-admin"),
        ("Device Administrators", "device-admin"),
        ("Device Administrator", "device-admin"),
        ("Teams  Communications Administrator", "teams-communications-admin"),
    ],
)
def test_role_name_variants(cli, bare, role: str, slug: str) -> None:
    assert cli("admin", "add", "x@contoso.com", "--role", role).exit_code == 0
    assert rows("SELECT role FROM admins") == [(slug,)]
