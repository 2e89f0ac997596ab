"""helpers.recipes: does a misspelt or mistyped setting fail before any training, with a message that helps?"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytest

from helpers import pretrain
from helpers.experiments import classifiers, curves, ecg
from helpers.recipes import Recipe, UnknownSettingError


@dataclass(frozen=True)
class Demo(Recipe):
    WHAT = "t"
    lr: float = 1e-3
    epochs: int = 10
    filters: tuple[int, ...] = (16, 32)
    batch_norm: bool = False
    max_images: int | None = None
    pooling: Literal["gap", "flatten"] = "gap"


def test_replace_changes_declared_settings_converts_kin_types_and_leaves_the_base_alone():
    base = Demo()
    out = base.replace(lr=1, epochs=np.int64(3), filters=[4, 8], max_images=64, batch_norm=np.bool_(True))
    assert out == Demo(lr=1.0, epochs=3, filters=(4, 8), max_images=64, batch_norm=True)
    assert type(out.lr) is float and type(out.epochs) is int and out.filters == (4, 8)
    assert base == Demo() and base.epochs == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.epochs = 3  # type: ignore[misc]


def test_unknown_setting_names_the_recipe_and_the_closest_setting():
    with pytest.raises(UnknownSettingError, match=r"Unknown setting 'epoch' for t \(did you mean 'epochs'\?\)"):
        Demo().replace(epoch=3)
    with pytest.raises(KeyError, match="Known settings: batch_norm, epochs, filters, lr, max_images, pooling"):
        Demo().with_overrides({"zzz": 3})
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        Demo(epoch=3)  # type: ignore[call-arg]


@pytest.mark.parametrize("key, value", [("epochs", 2.5), ("batch_norm", 1), ("lr", True), ("pooling", 3),
                                        ("pooling", "max"), ("filters", 16), ("filters", (16, "a")),
                                        ("max_images", 1.5)])
def test_a_value_of_the_wrong_type_is_refused(key, value):
    with pytest.raises(TypeError, match=f"Setting '{key}' of t must be"):
        Demo().replace(**{key: value})
    with pytest.raises(TypeError, match=f"Setting '{key}' of t must be"):
        Demo(**{key: value})


def test_with_overrides_takes_none_a_mapping_or_a_recipe_of_its_own_kind():
    base = Demo()
    assert base.with_overrides(None) is base
    assert base.with_overrides({"epochs": 2}) == base.replace(epochs=2)
    other = base.replace(lr=0.5)
    assert base.with_overrides(other) is other
    with pytest.raises(TypeError, match="t cannot take a RnnRecipe"):
        base.with_overrides(ecg.RNN_RECIPE)
    assert base.as_dict() == {"lr": 1e-3, "epochs": 10, "filters": (16, 32), "batch_norm": False,
                               "max_images": None, "pooling": "gap"}


def test_every_cached_run_checks_its_recipe_before_training(tmp_path, monkeypatch):
    """A typo must fail at once: before, it trained the base recipe under a new cache key."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    with pytest.raises(UnknownSettingError, match="classifiers of lesson 06"):
        classifiers.predictions("breastmnist", 0, recipe={"lr_rate": 1e-3})
    with pytest.raises(UnknownSettingError, match="ECG200 recipe"):
        ecg.run_ecg200({"unit": 4})
    with pytest.raises(UnknownSettingError, match="did you mean 'patience'"):
        ecg.pretrain_encoder(ecg.RNN_RECIPE.arch(), 0, {"patiense": 2})
    with pytest.raises(TypeError, match="Setting 'readout' of the ECG200 recipe"):
        ecg.run_ecg200({"readout": "first"})
    with pytest.raises(UnknownSettingError, match="contrastive pretraining settings"):
        pretrain.pretrain("simclr_chest", training={"temprature": 0.1}, path=tmp_path / "x.weights.npz")
    assert not list(tmp_path.rglob("*.joblib")) and not list(tmp_path.rglob("*.npz"))


def test_the_declared_recipes_of_every_lesson_are_valid_and_typed():
    named = [*curves.SCRATCH_RECIPES.values(), *curves.TRANSFER_RECIPES.values(), curves.TRAINING,
             ecg.RNN_RECIPE, ecg.PRETRAIN_RECIPE, classifiers.CLASSIFIER_RECIPE, pretrain.TRAINING,
             pretrain.CONTRASTIVE_TRAINING]
    for r in named:
        assert isinstance(r, Recipe) and dataclasses.is_dataclass(r)
        assert type(r)(**r.as_dict()) == r, f"{type(r).__name__} must rebuild from its own settings"
    for family in curves.FAMILIES:
        for name in getattr(curves, f"{family.upper()}_RECIPES"):
            assert curves.recipe(family, name) is getattr(curves, f"{family.upper()}_RECIPES")[name]
    assert set(ecg.RNN_RECIPE.arch()) <= {f.name for f in dataclasses.fields(ecg.RNN_RECIPE)}
