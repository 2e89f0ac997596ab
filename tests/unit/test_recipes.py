"""helpers.recipes: does a misspelt or mistyped setting fail before any training, with a message that helps?"""
from __future__ import annotations

import numpy as np
import pytest

from helpers import curves, ecg, evaluation
from helpers.recipes import UnknownSettingError, with_overrides

BASE = {"lr": 1e-3, "epochs": 10, "filters": (16, 32), "batch_norm": False, "max_images": None, "pooling": "gap"}


def test_overrides_replace_declared_settings_and_leave_the_base_alone():
    out = with_overrides(BASE, {"lr": 1, "epochs": np.int64(3), "filters": [4, 8], "max_images": 64}, name="t")
    assert out == {**BASE, "lr": 1, "epochs": 3, "filters": [4, 8], "max_images": 64}
    assert BASE["epochs"] == 10 and with_overrides(BASE, None, name="t") == BASE


def test_unknown_setting_names_the_recipe_and_the_closest_setting():
    with pytest.raises(UnknownSettingError, match=r"Unknown setting 'epoch' for t \(did you mean 'epochs'\?\)"):
        with_overrides(BASE, {"epoch": 3}, name="t")
    with pytest.raises(KeyError, match="Known settings: batch_norm, epochs, filters, lr, max_images, pooling"):
        with_overrides(BASE, {"zzz": 3}, name="t")


@pytest.mark.parametrize("key, value", [("epochs", 2.5), ("batch_norm", 1), ("lr", True), ("pooling", 3),
                                        ("filters", 16)])
def test_a_value_of_the_wrong_type_is_refused(key, value):
    with pytest.raises(TypeError, match=f"Setting '{key}' of t must be"):
        with_overrides(BASE, {key: value}, name="t")


def test_every_cached_run_checks_its_recipe_before_training(tmp_path, monkeypatch):
    """A typo must fail at once: before, it trained the base recipe under a new cache key."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    with pytest.raises(UnknownSettingError, match="lessons 05-06"):
        evaluation.predictions("breastmnist", 0, recipe={"lr_rate": 1e-3})
    with pytest.raises(UnknownSettingError, match="ECG200 recipe"):
        ecg.run_ecg200({"unit": 4})
    assert not list(tmp_path.rglob("*.joblib")) and not list(tmp_path.rglob("*.npz"))


def test_the_declared_recipes_of_every_lesson_are_valid():
    for family in curves.FAMILIES:
        for name in getattr(curves, f"{family.upper()}_RECIPES"):
            assert curves.recipe(family, name)
