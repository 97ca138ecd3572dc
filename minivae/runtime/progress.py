"""The progress bar of a training epoch, drawn by tqdm.

minivae used to draw its own bar; tqdm is what Python users know and what notebook front ends
draw as a widget, so the bar is tqdm's (a notebook widget when the bar goes to a notebook's
standard error and ipywidgets is installed, text otherwise). What this module adds is the
trainer's view of it: the running loss, reconstruction and KL shown beside the bar, and, when
the output is not a terminal (a log file, a CI run), a redraw only at every quarter of the pass
rather than ten times a second.
"""
from __future__ import annotations

import importlib.util
import sys

from tqdm import tqdm as _text_tqdm

__all__ = ["ProgressBar"]


def _bar_class(stream):
    """tqdm's notebook widget for a notebook's own standard error (when ipywidgets can draw
    it), its text bar everywhere else."""
    if stream is sys.stderr and "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets"):
        from tqdm.notebook import tqdm as notebook_tqdm     # optional: needs ipywidgets
        return notebook_tqdm
    return _text_tqdm


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
        False turns every method into a no-op (and draws nothing).
    """

    def __init__(self, total, desc="", stream=None, enabled=True):
        self.enabled = enabled
        self._bar = None
        if not enabled:
            return
        stream = stream if stream is not None else sys.stderr
        tty = bool(getattr(stream, "isatty", lambda: False)())
        total = max(int(total), 1)
        self._bar = _bar_class(stream)(
            total=total, desc=desc, file=stream, unit="batch", leave=True, dynamic_ncols=tty,
            # a log file gets four redraws a pass, a terminal up to ten a second
            mininterval=0.1 if tty else 0.0, miniters=None if tty else max(1, total // 4))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n=1, **postfix):
        """Advance by ``n`` steps; ``postfix`` (name=value) is shown after the bar."""
        if self._bar is None:
            return
        if postfix:
            self._bar.set_postfix_str(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                               for k, v in postfix.items()), refresh=False)
        self._bar.update(n)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
