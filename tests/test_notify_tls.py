"""TLS and the SMTP login: the password travels only over TLS, and no form of it comes back out.

Real aiosmtpd servers on loopback with a throwaway certificate (tests/smtp.py), some behind a wiretap
that keeps what the client put on the network and can strip STARTTLS as an attacker would.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from hypothesis import given
from hypothesis import strategies as st

from credits_cli import db as dbmod
from credits_cli import notify, tenants
from tests.helpers import assert_error, assert_json, db_path, dump, rows
from tests.smtp import certificate, server_tls, wiretap
from tests.test_notify_smtp import PASSWORD, SENDER, Collector, start

USER = "mailer@contoso.com"
#: What the client's AUTH puts on the wire, each as a server could echo it back.
PLAIN_TOKEN = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
AUTHZID_TOKEN = base64.b64encode(f"{USER}\0{USER}\0{PASSWORD}".encode()).decode()
LOGIN_USER = base64.b64encode(USER.encode()).decode()
LOGIN_PASSWORD = base64.b64encode(PASSWORD.encode()).decode()
SECRET_FORMS = [PASSWORD, PLAIN_TOKEN, AUTHZID_TOKEN, LOGIN_PASSWORD]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def queued(cli, tenant) -> int:
    """Two admins, one event: two queued messages."""
    assert cli("admin", "add", "ops@contoso.com", "--role", "global-admin").exit_code == 0
    database = dbmod.open_database(db_path())
    database.write(lambda s: notify.queue_event(s, tenants.resolve(s, None), "balance_zero",
                                                datetime(2026, 5, 1), balance=Decimal("0")))
    return 2


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITS_SMTP_USER", USER)
    monkeypatch.setenv("CREDITS_SMTP_PASSWORD", PASSWORD)


def serve(handler: Collector, **options: Any) -> Iterator[int]:
    controller, port = start(handler, **options)
    try:
        yield port
    finally:
        controller.stop()


def stored() -> bytes:
    """Every byte of the SQLite database: the file and its -wal and -shm."""
    path = Path(db_path())
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        raw = text.encode() if isinstance(text, str) else text
        for form in SECRET_FORMS:
            assert form.encode() not in raw, (form, raw[:2000])


# --- the server's address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("smtp.contoso.com", ("smtp.contoso.com", 25, False)),
        ("smtp.contoso.com:587", ("smtp.contoso.com", 587, False)),
        ("smtp.contoso.com:465", ("smtp.contoso.com", 465, True)),
        ("smtps://smtp.contoso.com", ("smtp.contoso.com", 465, True)),
        ("SMTPS://smtp.contoso.com:2465", ("smtp.contoso.com", 2465, True)),
        ("smtp://smtp.contoso.com:465", ("smtp.contoso.com", 465, False)),
        ("smtp://smtp.contoso.com", ("smtp.contoso.com", 25, False)),
        ("[::1]:587", ("::1", 587, False)),
    ],
)
def test_parse_smtp(value: str, expected: tuple[str, int, bool]) -> None:
    assert tuple(notify.parse_smtp(value)) == expected


@pytest.mark.parametrize("value", ["ftp://h:25", "smtps://", "smtps://:465", "h:0", "h:x"])
def test_parse_smtp_refuses(value: str) -> None:
    with pytest.raises(notify.InvalidInput, match="HOST:PORT"):
        notify.parse_smtp(value)


# --- scrub -------------------------------------------------------------------------------------------

CREDENTIALS = notify.Credentials(USER, PASSWORD)


@pytest.mark.parametrize(
    "echo",
    [
        PASSWORD,
        PASSWORD.upper(),
        PLAIN_TOKEN,
        AUTHZID_TOKEN,
        LOGIN_PASSWORD,
        f"{LOGIN_USER} {LOGIN_PASSWORD}",
        base64.b64encode(f"user={USER} pass={PASSWORD} end".encode()).decode(),
        "xyz" + base64.b64encode(f"-{PASSWORD}-".encode()).decode().rstrip("=") + "abc",
        base64.urlsafe_b64encode(f"??{PASSWORD}>>".encode()).decode(),
    ],
    ids=["password", "upper-case", "plain", "plain-authzid", "login-step", "login-steps", "in-a-blob",
         "glued", "url-safe"],
)
def test_scrub_takes_out_every_form(echo: str) -> None:
    text = notify.scrub(f"535 5.7.8 <{echo}> refused\r\nsee you", CREDENTIALS)
    assert_no_secret(text)
    assert PASSWORD.lower() not in text.lower()
    assert text.startswith("535 5.7.8 <") and text.endswith("> refused  see you") and notify.MASK in text


def test_scrub_keeps_the_rest_and_replaces_control_characters() -> None:
    assert notify.scrub("550 5.1.1 <ops@contoso.com> unknown", CREDENTIALS) == "550 5.1.1 <ops@contoso.com> unknown"
    assert notify.scrub("421 bye\x1b[31m\x00\x85", None) == "421 bye [31m  "
    assert USER in notify.scrub(f"535 no such user {USER}", CREDENTIALS)  # the user name is not a secret


@given(
    password=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*"), min_size=1),
    user=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    junk=st.binary(max_size=8),
)
def test_scrub_property(password: str, user: str, before: str, after: str, junk: bytes) -> None:
    credentials = notify.Credentials(user, password)
    blob = base64.b64encode(junk + password.encode() + junk).decode()
    for echo in [*credentials.forms(), blob]:
        text = notify.scrub(before + echo + after, credentials)
        assert blob not in text
        assert password not in text and password.lower() not in text.lower()


# --- TLS before the password ---------------------------------------------------------------------


def test_login_over_starttls(cli, queued: int, login: None, cert: tuple[Path, Path],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    handler = Collector()
    monkeypatch.setenv("CREDITS_SMTP_CAFILE", str(cert[0]))
    for port in serve(handler, tls_context=server_tls(*cert), authenticator=handler.authenticate,
                      auth_required=True):
        with wiretap(f"127.0.0.1:{port}") as tap:
            r = cli("notifications", "send", "--smtp", tap.address, "--sender", SENDER)
        assert r.exit_code == 0, r.stderr
        assert handler.logins == [(USER, PASSWORD)] and len(handler.messages) == queued
    wire = tap.sent().lower()  # smtplib writes its commands in lower case
    assert b"starttls" in wire and b"auth" not in wire and b"mail from" not in wire  # all of it under TLS
    assert_no_secret(wire, r.stdout, r.stderr, stored())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("hostile", [False, True], ids=["no-starttls", "starttls-stripped"])
def test_no_tls_means_no_password(cli, queued: int, login: None, cert: tuple[Path, Path], hostile: bool,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A server without STARTTLS, or one an attacker made look so: no AUTH, nothing sent, rows queued."""
    handler = Collector()
    monkeypatch.setenv("CREDITS_SMTP_CAFILE", str(cert[0]))
    options: dict[str, Any] = (
        {"tls_context": server_tls(*cert)} if hostile else {"auth_require_tls": False}
    )
    for port in serve(handler, authenticator=handler.authenticate, **options):
        with wiretap(f"127.0.0.1:{port}", strip_starttls=hostile) as tap:
            r = cli("notifications", "send", "--smtp", tap.address, "--sender", SENDER)
            as_json = cli("notifications", "send", "--smtp", tap.address, "--sender", SENDER, "--json")
    err = assert_error(r, "2 message(s) not delivered", "offers no STARTTLS", "--insecure-login")
    assert "password is not sent in clear text" in err
    assert as_json.exit_code == 1 and "offers no STARTTLS" in as_json.stdout
    assert handler.logins == [] and handler.messages == []
    wire = tap.sent().lower()
    assert wire.count(b"ehlo") == 2 and b"auth" not in wire and b"mail from" not in wire
    assert_no_secret(wire, r.stdout, r.stderr, as_json.stdout, as_json.stderr, stored())
    kept = rows("SELECT status, attempts, last_error FROM notifications")
    assert [(s, a) for s, a, _ in kept] == [("queued", 2)] * queued
    assert all("offers no STARTTLS" in e for _, _, e in kept)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_insecure_login_logs_in_and_warns(cli, queued: int, login: None) -> None:
    handler = Collector()
    for port in serve(handler, authenticator=handler.authenticate, auth_require_tls=False, auth_required=True):
        r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER, "--insecure-login")
    assert r.exit_code == 0, r.stderr
    assert f"sent {queued}, failed 0" in r.stdout
    assert r.stderr.startswith("warning:") and r.stderr.count("\n") == 1
    assert "--insecure-login" in r.stderr and "clear text" in r.stderr
    assert handler.logins == [(USER, PASSWORD)] and len(handler.messages) == queued
    assert_no_secret(r.stdout, r.stderr, stored())


def test_insecure_login_still_uses_starttls_when_offered(cli, queued: int, login: None,
                                                       cert: tuple[Path, Path]) -> None:
    handler = Collector()
    for port in serve(handler, tls_context=server_tls(*cert), authenticator=handler.authenticate):
        with wiretap(f"127.0.0.1:{port}") as tap:
            r = cli("notifications", "send", "--smtp", tap.address, "--sender", SENDER,
                    "--insecure-login", "--cafile", str(cert[0]))
    assert r.exit_code == 0, r.stderr
    assert r.stderr == "" and handler.logins == [(USER, PASSWORD)]
    assert b"starttls" in tap.sent().lower() and b"auth" not in tap.sent().lower()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls(cli, queued: int, login: None, cert: tuple[Path, Path]) -> None:
    handler = Collector()
    # aiosmtpd counts only STARTTLS as TLS: its own check is off, the whole connection is TLS here.
    for port in serve(handler, ssl_context=server_tls(*cert), authenticator=handler.authenticate,
                      auth_required=True, auth_require_tls=False):
        with wiretap(f"127.0.0.1:{port}") as tap:
            r = cli("notifications", "send", "--smtp", f"smtps://{tap.address}", "--sender", SENDER,
                    "--cafile", str(cert[0]))
    assert r.exit_code == 0, r.stderr
    assert handler.logins == [(USER, PASSWORD)] and len(handler.messages) == queued
    wire = tap.sent().lower()
    assert wire and b"ehlo" not in wire and b"starttls" not in wire  # TLS from the first byte
    assert_no_secret(wire, r.stdout, r.stderr, stored())


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
@pytest.mark.parametrize("password", [True, False], ids=["login", "no-login"])
def test_certificate_that_does_not_verify_ends_the_send(cli, queued: int, cert: tuple[Path, Path],
                                                        implicit: bool, password: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No --cafile: the self-signed certificate does not verify, and nothing falls back to clear text,
    with or without a password."""
    if password:
        monkeypatch.setenv("CREDITS_SMTP_PASSWORD", PASSWORD)
    handler = Collector()
    options = {"ssl_context" if implicit else "tls_context": server_tls(*cert)}
    for port in serve(handler, authenticator=handler.authenticate, **options):
        with wiretap(f"127.0.0.1:{port}") as tap:
            r = cli("notifications", "send", "--smtp", f"{'smtps://' if implicit else ''}{tap.address}",
                    "--sender", SENDER)
    assert_error(r, "not delivered", "certificate", "does not verify", "--cafile")
    assert handler.messages == [] and handler.logins == []
    assert b"mail from" not in tap.sent().lower() and b"auth" not in tap.sent().lower()
    kept = rows("SELECT status, last_error FROM notifications")
    assert [s for s, _ in kept] == ["queued"] * queued and all("does not verify" in e for _, e in kept)


def test_unusable_cafile_is_one_line_and_writes_nothing(cli, queued: int, tmp_path: Path) -> None:
    before = dump()
    assert_error(cli("notifications", "send", "--smtp", "127.0.0.1:25", "--sender", SENDER,
                     "--cafile", str(tmp_path / "missing.pem")), "--cafile", "cannot be used")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert_error(cli("notifications", "send", "--smtp", "127.0.0.1:25", "--sender", SENDER,
                     "--cafile", str(tmp_path / "junk.pem")), "--cafile", "cannot be used")
    assert dump() == before


# --- a server that echoes what AUTH sent -------------------------------------------------------------


class Echoing(Collector):
    """Refuses every login, quoting in its 535 what the client's AUTH sent, in the form ``echo`` names."""

    def __init__(self, echo: str) -> None:
        super().__init__()
        self.echo = echo

    def _refusal(self, user: bytes, password: bytes) -> AuthResult:
        self.logins.append((user.decode(), password.decode()))
        forms = {
            "plain-token": PLAIN_TOKEN,
            "plain-authzid": AUTHZID_TOKEN,
            "login-steps": f"{LOGIN_USER} then {LOGIN_PASSWORD}",
            "password": f"user {user.decode()} password {password.decode()}",
            "in-a-blob": base64.b64encode(b"debug:" + user + b"/" + password + b";").decode(),
        }
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {forms[self.echo]}")

    async def auth_PLAIN(self, server: Any, args: list[str]) -> AuthResult:
        _, user, password = base64.b64decode(args[1]).split(b"\0")
        assert args[1] == PLAIN_TOKEN  # what smtplib sent: the token echoed below is the real one
        return self._refusal(user, password)

    async def auth_LOGIN(self, server: Any, args: list[str]) -> AuthResult:
        assert args[1] == LOGIN_USER
        password = await server.challenge_auth("Password:")
        return self._refusal(base64.b64decode(args[1]), password)


@pytest.mark.parametrize(
    ("echo", "mechanism"),
    [
        ("plain-token", "PLAIN"),
        ("plain-authzid", "PLAIN"),
        ("login-steps", "LOGIN"),
        ("password", "PLAIN"),
        ("password", "LOGIN"),
        ("in-a-blob", "LOGIN"),
    ],
)
def test_server_echoing_the_login_leaks_no_form_of_it(cli, queued: int, login: None, cert: tuple[Path, Path],
                                                      monkeypatch: pytest.MonkeyPatch, echo: str,
                                                      mechanism: str) -> None:
    handler = Echoing(echo)
    monkeypatch.setenv("CREDITS_SMTP_CAFILE", str(cert[0]))
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    for port in serve(handler, tls_context=server_tls(*cert), auth_exclude_mechanism=[other]):
        r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
        as_json = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER, "--json")
    assert handler.logins == [(USER, PASSWORD)] * 2, "the server did see the real login"
    err = assert_error(r, "not delivered", "refused the login", "535 5.7.8 bad credentials")
    assert notify.MASK in err
    assert as_json.exit_code == 1
    doc = as_json.stdout
    listing = cli("notifications")
    listed = assert_json(cli("notifications", "--json"))
    assert all("535" in n["last_error"] and notify.MASK in n["last_error"] for n in listed)
    assert_no_secret(r.stdout, r.stderr, doc, as_json.stderr, listing.stdout, str(listed), stored(), *map(str, dump()))
    assert not re.search(re.escape(PASSWORD), r.stderr + doc, re.IGNORECASE)
