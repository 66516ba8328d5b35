"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
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
    import socket

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
