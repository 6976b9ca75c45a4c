"""A real SMTP server on loopback for the reminder e-mail tests (aiosmtpd): it keeps what it
takes, and refuses as the test says."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

# The answer to the n-th message (from 0): an SMTP reply.
Answering = Callable[[int], str]


@dataclass
class Mailbox:
    port: int
    answering: Answering
    tried: int = 0
    taken: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        answer = self.answering(self.tried)
        self.tried += 1
        if answer.startswith("250"):
            parsed = message_from_bytes(envelope.original_content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.taken.append((list(envelope.rcpt_tos), parsed))
        return answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def mailbox(answering: Answering = lambda n: "250 OK") -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1, on a free port, for the `with` block."""
    box = Mailbox(port=_free_port(), answering=answering)
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
