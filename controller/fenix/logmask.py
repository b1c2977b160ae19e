"""Passwords never reach a log line: URLs with credentials are logged as user:***@host.

Database and message-bus URLs carry their passwords (postgresql+psycopg://fenix:pw@db/fenix,
rabbit://guest:pw@mq/), and they appear in start-up lines, connection errors and tracebacks
from libraries we do not control. So the formatter of every handler `fenix` sets up masks
them in the finished line, whatever logger wrote it.
"""

from __future__ import annotations

import logging
import re

_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<password>[^@\s]+)@")


def mask_passwords(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    return _CREDENTIALS.sub(r"\g<head>:***@", text)


class MaskingFormatter(logging.Formatter):
    """A Formatter whose lines (message, arguments and traceback) hold no URL password."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_passwords(super().format(record))


def mask_all_handlers(fmt: str) -> None:
    """Give every handler of the root logger a masking formatter of `fmt`."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(MaskingFormatter(fmt))
