"""The live progress line of a training epoch, drawn only on a terminal.

On a terminal the line is redrawn in place (``\\r``) at most ``refresh`` seconds apart::

      epoch 3/200 [##########..........] 45/90  loss 4.2813  38.1 batch/s  eta 0:01

and with the scores a task derives from its loss (``scores_from_loss``), e.g. for a
character-level language model ``loss 0.9876 (bpc 1.425)``.

Anywhere else (a log file, a pipe, CI) the same line is written as a line of its own at
most ``log_every`` seconds apart (default 60), so that an epoch of many minutes shows it is
moving; epochs shorter than that write nothing beside the trainer's line per epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

BAR_WIDTH = 20


def format_scores(scores: dict[str, float]) -> str:
    """Scores derived from a loss as a parenthesis to put after it: {"bpc": 1.4248} ->
    " (bpc 1.425)"; {} -> ""."""
    if not scores:
        return ""
    return " (" + ", ".join(f"{name} {value:.4g}" for name, value in scores.items()) + ")"


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` or ``m:ss``: 75 -> "1:15", 3725 -> "1:02:05"."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class EpochProgress:
    """Progress through the batches of one epoch: ``update(done, loss)`` after each batch,
    ``close()`` at the end (clears the line so the epoch summary prints clean).
    ``scores``: loss -> the scores derived from it (bpc, perplexity), shown beside it."""

    def __init__(
        self,
        stream,
        epoch: int,
        epochs: int,
        total: int,
        *,
        refresh: float = 0.1,
        log_every: float = 60.0,
        scores: Callable[[float], dict[str, float]] | None = None,
    ) -> None:
        self.stream = stream
        self.shown = getattr(stream, "isatty", lambda: False)()
        self.log_every = log_every
        self.prefix = f"  epoch {epoch}/{epochs}"
        self.total = total
        self.refresh = refresh
        self.started = time.perf_counter()
        self.drawn_at = -float("inf")
        self.width = 0  # of the line drawn on a terminal
        self.logged = 0  # lines written elsewhere
        self.scores = scores or (lambda loss: {})

    def line(self, done: int, loss: float, elapsed: float) -> str:
        filled = BAR_WIDTH * done // max(self.total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        return (
            f"{self.prefix} [{bar}] {done}/{self.total}  "
            f"loss {loss:.4f}{format_scores(self.scores(loss))}  "
            f"{rate:.1f} batch/s  eta {format_duration(eta)}"
        )

    def update(self, done: int, loss: float) -> None:
        now = time.perf_counter()
        if not self.shown:
            if now - self.started >= self.log_every * (1 + self.logged) and done < self.total:
                self.logged += 1
                print(self.line(done, loss, now - self.started), file=self.stream, flush=True)
            return
        if now - self.drawn_at < self.refresh and done < self.total:
            return
        self.drawn_at = now
        text = self.line(done, loss, now - self.started)
        # Pad over what a longer previous line left behind.
        print("\r" + text.ljust(self.width), end="", file=self.stream, flush=True)
        self.width = len(text)

    def close(self) -> None:
        if self.shown and self.width:
            print("\r" + " " * self.width + "\r", end="", file=self.stream, flush=True)
