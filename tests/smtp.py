"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepted; a throwaway certificate for
its TLS; a wiretap in front of it that keeps what the client sent and can play an attacker or a slow
server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any


@dataclass
class Inbox:
    """Messages the server answered 250 to, in order, and hooks for hostile behaviour."""

    accepted: list[Message] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering each DATA
    on_data: Callable[[Message], str | None] | None = None  # may return an SMTP reply instead of 250
    lock: threading.Lock = field(default_factory=threading.Lock)

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.accepted]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.original_content or envelope.content)
        if self.on_data is not None:
            reply = self.on_data(message)
            if reply is not None:
                return reply
        with self.lock:
            self.accepted.append(message)
        return "250 OK"


@contextmanager
def smtp_server(inbox: Inbox | None = None, **smtp_options: Any) -> Iterator[tuple[str, Inbox]]:
    """Yield ("127.0.0.1:PORT", inbox) while a server runs on a free loopback port."""
    from aiosmtpd.controller import Controller

    box = inbox or Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield f"127.0.0.1:{port}", box
    finally:
        controller.stop()


# --- TLS, and a wiretap that can play an attacker or a slow server ------------------------------------


def certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (and localhost) and its key, made by openssl
    in ``folder``; the calling test is skipped where openssl is not installed."""
    import pytest

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate for the TLS tests")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """What a server presents: ``tls_context=`` (STARTTLS) or ``ssl_context=`` (TLS from the first byte)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Tap:
    """What went through a :func:`wiretap`: the bytes the client sent, as the network saw them."""

    address: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    from_client: bytearray = field(default_factory=bytearray)

    def sent(self) -> bytes:
        with self.lock:
            return bytes(self.from_client)


@contextmanager
def wiretap(
    target: str, *, strip_starttls: bool = False, trickle: float = 0.0, cut_at: bytes | None = None
) -> Iterator[Tap]:
    """A TCP relay on loopback in front of the server at ``target`` ("HOST:PORT"). It keeps what the
    client sent; ``strip_starttls`` plays the attacker who removes STARTTLS from the server's EHLO answer
    (the keyword becomes XXXXXXXA); ``trickle`` passes the server's bytes one at a time, that many
    seconds apart; ``cut_at`` drops both connections as soon as the client has sent those bytes."""
    host, _, port = target.rpartition(":")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    tap = Tap(address=f"127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()
    threads: list[threading.Thread] = []
    sockets: list[socket.socket] = []

    def hang_up(*ends: socket.socket) -> None:
        for end in ends:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pump(source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while not stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if upstream:
                    with tap.lock:
                        tap.from_client.extend(data)
                        cut = cut_at is not None and cut_at in tap.from_client
                    if cut:
                        break
                    sink.sendall(data)
                    continue
                if strip_starttls:
                    data = data.replace(b"STARTTLS", b"XXXXXXXA")
                if not trickle:
                    sink.sendall(data)
                    continue
                for i in range(len(data)):
                    if stop.wait(trickle):
                        return
                    sink.sendall(data[i : i + 1])
        except OSError:
            pass
        finally:
            hang_up(source, sink)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection((host, int(port)))
            sockets.extend([client, server])
            for args in ((client, server, True), (server, client, False)):
                thread = threading.Thread(target=pump, args=args, daemon=True)
                thread.start()
                threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield tap
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for end in sockets:
            hang_up(end)
        for thread in threads:
            thread.join(timeout=5)
        for end in sockets:
            end.close()
