"""Recipes: the declared, validated settings of every cached run (lessons 01, 03, 04, 05, 06).

A recipe is a frozen dataclass that derives from :class:`Recipe`: each setting
is a typed field with its default, declared next to the run that uses it
(``curves.ScratchRecipe`` and ``curves.TransferRecipe`` of lessons 01 and 04,
``curves.Training``, ``ecg.RnnRecipe`` and ``ecg.PretrainRecipe`` of lesson 03,
``classifiers.ClassifierRecipe`` of lesson 06, ``pretrain.Training`` and
``pretrain.ContrastiveTraining`` of lesson 04's source models). A recipe checks
its values when it is made, and :meth:`Recipe.replace` refuses a setting the
recipe does not declare, so a typo fails with a message instead of silently
training the default recipe under a new cache key.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Demo(Recipe):
...     WHAT = "demo recipe"
...     lr: float = 1e-3
...     epochs: int = 10
>>> Demo().replace(epochs=20)
Demo(lr=0.001, epochs=20)
>>> Demo().replace(epoch=20)
Traceback (most recent call last):
...
helpers.recipes.UnknownSettingError: Unknown setting 'epoch' for demo recipe (did you mean 'epochs'?). Known settings: epochs, lr.
"""
from __future__ import annotations

import dataclasses
import difflib
import numbers
import types
import typing
from typing import Any, ClassVar, Literal, Mapping, TypeVar, Union

import numpy as np

R = TypeVar("R", bound="Recipe")


class UnknownSettingError(KeyError):
    """A recipe override names a setting that the recipe does not declare. No lesson calls it directly (lessons reach it through other helpers)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _checked(value: Any, hint: Any, where: str) -> Any:
    """``value`` as a ``hint`` (ints accepted for floats, lists for tuples), or a TypeError naming ``where``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _checked(value, option, where)
            except TypeError:
                continue
    elif origin is Literal:
        if value in args and not isinstance(value, bool):
            return value
        raise TypeError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}.")
    elif origin is tuple and isinstance(value, (tuple, list)):
        item = args[0] if args else Any
        return tuple(v if item is Any else _checked(v, item, where) for v in value)
    elif hint is bool and isinstance(value, (bool, np.bool_)):
        return bool(value)
    elif hint is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    elif hint is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    elif hint is str and isinstance(value, str):
        return value
    raise TypeError(f"{where} must be {_type_name(hint)}, got {type(value).__name__} {value!r}.")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Base of every recipe: typed fields, checked on creation; :meth:`replace` for variants.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT: ClassVar[str] = "this recipe"
    """How error messages name the recipe, e.g. "the ECG200 recipe (ecg.RnnRecipe)"."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            fixed = _checked(value, hints[field.name], f"Setting {field.name!r} of {self.WHAT}")
            if fixed is not value:
                object.__setattr__(self, field.name, fixed)

    def replace(self: R, **changes: Any) -> R:
        """A copy with ``changes``; a setting this recipe does not declare is an error that names the closest."""
        known = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UnknownSettingError(f"Unknown setting {key!r} for {self.WHAT}{hint}. "
                                          f"Known settings: {', '.join(sorted(known))}.")
        return dataclasses.replace(self, **changes)

    def with_overrides(self: R, overrides: Recipe | Mapping[str, Any] | None) -> R:
        """``overrides`` applied: ``None`` keeps this recipe, a recipe of this class replaces it, a mapping
        changes the settings it names (how a lesson asks for a variant: ``{"readout": "last"}``)."""
        if overrides is None:
            return self
        if isinstance(overrides, type(self)):
            return overrides
        if isinstance(overrides, Recipe):
            raise TypeError(f"{self.WHAT} cannot take a {type(overrides).__name__}.")
        return self.replace(**dict(overrides))

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain data (for a report or a JSON file)."""
        return dataclasses.asdict(self)
