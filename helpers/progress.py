"""Progress bars that still read correctly in an executed notebook (lessons 01, 03, 04, 05, 06).

``tqdm.auto`` draws a Jupyter widget in a notebook; a notebook executed by
nbconvert or nbclient (CI, ``make bench``, nbgrader) saves no widget state, so
every bar reads "0 %" when the executed notebook is opened. :func:`bar` draws
plain-text bars instead, on standard error: a live front end redraws them in
place, and an executed notebook keeps the last state ("100% 60/60").
"""
from __future__ import annotations

import sys
from typing import Any, Iterable


def bar(items: Iterable[Any] | None = None, desc: str = "", *, total: int | None = None, unit: str = "it",
        enabled: bool = True, leave: bool = True, delay: float | None = None):
    """A text progress bar over ``items`` (or one to ``update`` by hand up to ``total``); silent when not ``enabled``.

    Use it as ``for x in bar(xs, "runs"): ...`` or, with ``items=None``,
    ``b = bar(desc="training", total=60, unit="epoch"); b.update(1); b.close()``.
    A bar that is cleared when done (``leave=False``) first shows after ``delay``
    seconds (default 1): a loop over cached results then prints nothing, instead
    of a bar at "0/5" that an executed notebook keeps.

    >>> sum(bar(range(3), "demo", enabled=False))
    3

    No lesson calls it directly (lessons reach it through other helpers).
    """
    from tqdm.std import tqdm  # text, never a widget: see the module's docstring

    if items is None and total is None:
        raise ValueError("give the items to iterate over, or the total of a bar to update by hand")
    if delay is None:
        delay = 0.0 if leave else 1.0
    return tqdm(items, desc=desc, total=total, unit=unit, disable=not enabled, leave=leave, delay=delay,
                file=sys.stderr, mininterval=0.5, dynamic_ncols=False, ncols=100)


def epochs(total: int, desc: str, *, enabled: bool = True):
    """A Keras callback that shows a :func:`bar` of the epochs of one ``fit``, with the last training loss.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    import keras

    class _EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = bar(desc=desc, total=total, unit="epoch", enabled=enabled)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.4f}", refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _EpochBar()
