"""Tests of helpers.contrastive: the loss against NumPy, the views, batch-norm statistics on clean images."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import contrastive as CL
from helpers.models import build_cnn_base


def _nt_xent_numpy(z_a, z_b, temperature):
    z = np.concatenate([z_a, z_b]).astype(float)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    logits = z @ z.T / temperature
    np.fill_diagonal(logits, -np.inf)
    n = len(z_a)
    partner = np.r_[np.arange(n, 2 * n), np.arange(n)]
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(2 * n), partner].mean()


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nt_xent_equals_the_formula(temperature):
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))  # float64 too
    got = float(CL.nt_xent(z_a, z_b, temperature))
    assert got == pytest.approx(_nt_xent_numpy(z_a, z_b, temperature), rel=1e-5)
    assert float(CL.nt_xent(z_a, z_a * 3.0, temperature)) < got, "identical views must score better"


def test_views_differ_per_image_and_stay_images():
    x = np.random.default_rng(1).uniform(size=(16, 28, 28, 1)).astype("float32")
    views = CL.augmenter(seed=0)
    a, b = np.asarray(views(x, training=True)), np.asarray(views(x, training=True))
    assert a.shape == x.shape and not np.allclose(a, b)
    assert np.allclose(np.asarray(views(x, training=False)), x), "outside training, no distortion"


def test_clean_batch_norm_statistics_match_the_clean_images():
    base = build_cnn_base((28, 28, 1), (4, 8), batch_norm=True)
    x = np.random.default_rng(2).uniform(0.2, 0.9, size=(64, 28, 28, 1)).astype("float32")
    assert CL.clean_batch_norm_statistics(base, x) == 2
    bn = base.get_layer("block1_bn")
    conv = base.get_layer("block1_conv")(x).numpy()
    np.testing.assert_allclose(bn.moving_mean.numpy(), conv.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    assert bn.momentum == pytest.approx(0.99), "the momentum must be restored"


def test_a_short_pretraining_lowers_the_loss():
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(3).uniform(size=(128, 28, 28, 1)).astype("float32")
    model = CL.SimCLR(build_cnn_base((28, 28, 1), (8, 16), batch_norm=True))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    loss = model.fit(x, epochs=4, batch_size=64, verbose=0).history["loss"]
    assert loss[-1] < loss[0]


# ------------------------------------------ the code lesson 04 shows is the code that ran
def _lesson04_code(starts_with: str) -> str:
    """The source of the one code cell of lesson 04 (solutions/) that starts with ``starts_with``."""
    import nbformat

    from helpers import REPO_ROOT

    nb = nbformat.read(REPO_ROOT / "solutions" / "04_finetune" / "04_finetune.ipynb", as_version=4)
    found = [c.source for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(starts_with)]
    assert len(found) == 1, f"{len(found)} code cells of lesson 04 start with {starts_with!r}"
    return found[0]


def _run_lesson_cell(source: str) -> dict:
    import keras
    import tensorflow as tf
    from keras import layers

    namespace = {"keras": keras, "layers": layers, "tf": tf, "np": np, "contrastive": CL}
    exec(compile(source, "lesson04-cell", "exec"), namespace)
    return namespace


def test_the_lessons_augmenter_is_the_one_that_pretrained_the_source():
    """Does lesson 04's `augmenter` build the same layers, with the same settings, as contrastive.augmenter?"""
    page = _run_lesson_cell(_lesson04_code("def augmenter("))["augmenter"]
    for seed in (0, 3):
        mine, theirs = page(seed), CL.augmenter(seed)
        assert [type(layer).__name__ for layer in mine.layers] == [type(layer).__name__ for layer in theirs.layers]
        settings = lambda model: [{k: v for k, v in layer.get_config().items() if k != "name"}  # noqa: E731
                                  for layer in model.layers]
        assert settings(mine) == settings(theirs)
    x = np.random.default_rng(5).uniform(size=(8, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(page(2)(x, training=True)), np.asarray(CL.augmenter(2)(x, training=True)))


def test_the_lessons_train_step_gives_the_helpers_loss_and_weights():
    """Two SimCLR models from the same start, one with lesson 04's train_step: same loss, same weights after."""
    import keras

    LessonSimCLR = _run_lesson_cell(_lesson04_code("def train_step("))["SimCLR"]
    assert LessonSimCLR.train_step is not CL.SimCLR.train_step
    x = np.random.default_rng(6).uniform(size=(32, 28, 28, 1)).astype("float32")
    results = []
    for cls in (LessonSimCLR, CL.SimCLR):
        keras.utils.set_random_seed(0)
        model = cls(build_cnn_base((28, 28, 1), (4, 8), batch_norm=True), projection_dim=8)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        loss = model.fit(x, epochs=2, batch_size=16, shuffle=False, verbose=0).history["loss"]
        results.append((loss, [v.numpy() for v in model.encoder.weights]))
    (loss_page, w_page), (loss_helper, w_helper) = results
    np.testing.assert_allclose(loss_page, loss_helper, rtol=1e-5)
    for a, b in zip(w_page, w_helper):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# --------------------- lesson 04, exercise 2: does the visible self-check fail the usual wrong answers?
# The self-check is the part of the graded test cell above ``### BEGIN HIDDEN TESTS`` in
# solutions/04_finetune; it runs here against answers written as a learner would, on a randomly
# initialised base of the lesson's architecture (the pretrained one's layer names), with random images.
LESSON = "04_finetune"


def _visible_self_check(grade_id: str) -> str:
    import nbformat

    from helpers import REPO_ROOT

    nb = nbformat.read(REPO_ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(cells) == 1, f"{len(cells)} cells have grade_id {grade_id!r}"
    return cells[0].source.split("### BEGIN HIDDEN TESTS")[0]


def _right(base, n_top_blocks):
    blocks = sorted({layer.name.split("_")[0] for layer in base.layers if layer.name.endswith("_conv")},
                    key=lambda b: int(b[len("block"):]))
    top = set(blocks[len(blocks) - n_top_blocks:]) if n_top_blocks > 0 else set()
    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name.endswith("_conv") and layer.name.split("_")[0] in top
    return base


def _never_unfreezes_the_base(base, n_top_blocks):
    """The common mistake: every layer's flag set, the base's own flag never (a frozen base stays frozen)."""
    top = {f"block{i}_conv" for i in range(4 - n_top_blocks, 4)} if n_top_blocks else set()
    for layer in base.layers:
        layer.trainable = layer.name in top
    return base


def _unfreezes_the_base_last(base, n_top_blocks):
    """The other order: base.trainable = True after the layers' flags makes every layer trainable again."""
    for layer in base.layers:
        layer.trainable = layer.name.endswith("_conv") and int(layer.name[5]) > 3 - n_top_blocks
    base.trainable = True
    return base


def _run(set_trainable) -> str:
    import io
    import types
    from contextlib import redirect_stdout

    import keras

    from helpers import pretrain
    from helpers.models import build_cnn_base

    namespace = {
        "np": np, "keras": keras, "set_trainable": set_trainable,
        "pretrain": types.SimpleNamespace(load_pretrained=lambda source: build_cnn_base(**pretrain.ARCH)),
        "breast": types.SimpleNamespace(train=types.SimpleNamespace(
            x=np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32"))),
    }
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(_visible_self_check("ex2_set_trainable_tests"), "self-check", "exec"), namespace)
    return out.getvalue()


def test_exercise2_self_check_passes_the_right_answer():
    assert "Self-check passed." in _run(_right)


def test_exercise2_self_check_fails_a_base_that_is_never_unfrozen_and_says_so():
    with pytest.raises(AssertionError, match=r"Set base\.trainable = True first"):
        _run(_never_unfreezes_the_base)


def test_exercise2_self_check_fails_unfreezing_the_base_after_the_layers_and_says_so():
    with pytest.raises(AssertionError, match=r"base\.trainable = True makes every layer inside trainable"):
        _run(_unfreezes_the_base_last)
