"""Recipes: a declared base recipe plus overrides, checked before a run starts.

Every cached run takes its settings as a recipe: a base dict declared next to
it (``PLAIN_RECIPE`` of lesson 01, ``SCRATCH_BASE`` and ``FINETUNE_RECIPE`` of
lesson 04, ``EVAL_RECIPE`` of lessons 05-06, ``RNN_RECIPE`` and
``PRETRAIN_RECIPE`` of lesson 03, the pretraining ``TRAINING``) and the few
settings a lesson changes. :func:`with_overrides` merges them and refuses a
setting the base does not declare, or a value of the wrong type, so a typo
fails with a message instead of silently training the base recipe under a
new cache key.

>>> with_overrides({"lr": 1e-3, "epochs": 10}, {"epochs": 20}, name="demo recipe")
{'lr': 0.001, 'epochs': 20}
>>> with_overrides({"lr": 1e-3, "epochs": 10}, {"epoch": 20}, name="demo recipe")
Traceback (most recent call last):
...
helpers.recipes.UnknownSettingError: Unknown setting 'epoch' for demo recipe (did you mean 'epochs'?). Known settings: epochs, lr.
"""
from __future__ import annotations

import difflib
import numbers
from typing import Any, Mapping

# A value of one of these types may replace a base value of the key type (NumPy numbers included).
_COMPATIBLE = {float: (numbers.Real,), int: (numbers.Integral,), tuple: (tuple, list), list: (tuple, list)}


class UnknownSettingError(KeyError):
    """A recipe override names a setting that its base recipe does not declare."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def with_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any] | None, *, name: str) -> dict[str, Any]:
    """``base`` with ``overrides`` applied; a setting ``base`` lacks, or a value of another type, is an error.

    ``name`` says which recipe this is in the message (e.g. "lesson 04's fine-tuning recipe").
    A base value of ``None`` accepts any value; ints are accepted for floats, lists for tuples.
    """
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if key not in base:
            close = difflib.get_close_matches(str(key), list(base), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownSettingError(f"Unknown setting {key!r} for {name}{hint}. Known settings: {', '.join(sorted(base))}.")
        default = base[key]
        if default is None or value is None:
            continue
        allowed = _COMPATIBLE.get(type(default), (type(default),))
        if not isinstance(value, allowed) or (isinstance(value, bool) and not isinstance(default, bool)):
            raise TypeError(f"Setting {key!r} of {name} must be {type(default).__name__} "
                            f"like its default {default!r}, got {type(value).__name__} {value!r}.")
    return {**base, **overrides}
