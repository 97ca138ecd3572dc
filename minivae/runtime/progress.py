"""A small text progress bar, so minivae needs no extra dependency for one.

On a terminal it redraws one line in place; when output goes to a file or a pipe (a CI log, a
notebook) it prints a plain line a few times per pass instead of hundreds of carriage returns.
"""
from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar"]


class ProgressBar:
    """``with ProgressBar(total, desc) as bar: ... bar.update(1, loss=...)``.

    Parameters
    ----------
    total : int
        Number of steps in the pass.
    desc : str
        Label in front of the bar.
    stream : file, default sys.stderr
    enabled : bool
        False turns every method into a no-op.
    width : int
        Characters of the bar itself.
    """

    def __init__(self, total, desc="", stream=None, enabled=True, width=24, min_interval=0.1):
        self.total = max(int(total), 1)
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.width = width
        self.n = 0
        self.start = time.perf_counter()
        self.postfix = {}
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval if self.tty else None
        self._last = 0.0
        self._next_plain = 0.25

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n=1, **postfix):
        if not self.enabled:
            return
        self.n += n
        self.postfix.update(postfix)
        now = time.perf_counter()
        if self.tty:
            if now - self._last >= self.min_interval or self.n >= self.total:
                self._last = now
                self.stream.write("\r" + self._line(now))
                self.stream.flush()
        elif self.n / self.total >= self._next_plain and self.n < self.total:
            self._next_plain += 0.25
            self.stream.write(self._line(now) + "\n")
            self.stream.flush()

    def _line(self, now):
        frac = min(self.n / self.total, 1.0)
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = now - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else 0.0
        post = " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in self.postfix.items())
        return (f"{self.desc} [{bar}] {self.n}/{self.total} {elapsed:5.1f}s<{eta:4.1f}s "
                f"{rate:6.1f} it/s {post}").rstrip()

    def close(self):
        if not self.enabled:
            return
        line = self._line(time.perf_counter())
        self.stream.write(("\r" + line + "\n") if self.tty else (line + "\n"))
        self.stream.flush()
        self.enabled = False
