"""What a long run shows while it works: a progress bar by pieces, and its waits.

Waits for the quota and retries of failed requests can last minutes; silent, they look
like a hang. `Progress.waiting` puts the current one on the bar ("waiting 12 s: quota")
and tells each *episode* — the waits between two steps of progress — once: a line above
the bar and one INFO log line, however many requests wait or retry in it.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from tqdm.auto import tqdm

from ..errors import QuotaExceededError, ServiceConnectionError, ServiceError, ServiceTimeoutError
from ..providers.estimate import format_duration as duration

logger = logging.getLogger("omniembed.rag")


class Progress:
    """A bar of ``total`` ``unit``s on stderr (none when ``show`` is false: waits are
    then only logged)."""

    def __init__(self, total: int, *, desc: str, unit: str, show: bool):
        self._bar: tqdm[Any] = tqdm(
            total=total, desc=desc, unit=unit, file=sys.stderr, disable=not show, dynamic_ncols=True
        )
        self._show = show
        self._lock = threading.Lock()
        self._in_episode = False

    def advance(self, n: int) -> None:
        with self._lock:
            if self._in_episode:
                self._in_episode = False
                self._bar.set_postfix_str("", refresh=False)
            self._bar.update(n)

    def waiting(self, text: str) -> None:
        """A request waits (``text`` says how long and why)."""
        with self._lock:
            first = not self._in_episode
            self._in_episode = True
            self._bar.set_postfix_str(text)
        if first:
            logger.info("%s", text)
            if self._show:
                tqdm.write(f"omniembed: {text}", file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


def retry_text(exc: BaseException, attempt: int, wait: float) -> str:
    """``retrying in 4 s: cannot connect (attempt 2 failed)``."""
    when = f"{wait:.1f} s" if wait < 10 else duration(wait)
    return f"retrying in {when}: {_reason(exc)} (attempt {attempt} failed)"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ServiceConnectionError):
        return f"cannot connect ({exc.message})"
    if isinstance(exc, ServiceTimeoutError):
        return "timed out"
    if isinstance(exc, QuotaExceededError):
        return "quota (429)"
    if isinstance(exc, ServiceError):
        head = " ".join(str(p) for p in (exc.status_code, exc.status) if p)
        return head or exc.message
    return type(exc).__name__
