"""Lesson 02's claims table (see tests/lessons/claims/__init__.py)."""
from claims import Claim, Executed

LESSON = "02_cnn_formula"


def _valid_3x3_shrinks_28_to_26(nb: Executed) -> None:
    text = nb.text("edges = conv2d_single(xray, sobel_x)")
    assert "image (28, 28) -> feature map (26, 26)" in text, text


def _same_padding_of_the_layers_below(nb: Executed) -> None:
    pads = nb.text("def same_padding")
    assert "n=28 k=3 stride=2: pad (before, after) = (0, 1)" in pads, pads
    conv2 = nb.text("same_padding(14, 4, 1)")
    assert "(before, after): (1, 2)" in conv2, conv2


def _vectorised_is_faster(nb: Executed) -> None:
    loop = nb.number("t_loop = (time.perf_counter()", r"four loops ([\d.]+) ms")
    fast = nb.number("t_loop = (time.perf_counter()", r"vectorised ([\d.]+) ms")
    assert fast < loop, f"vectorised {fast} ms per image, four loops {loop} ms"


def _keras_pooling_drops_the_odd_row(nb: Executed) -> None:
    text = nb.text("maps = rng.normal(size=(4, 7, 7, 3))")
    assert "max pool  (4, 7, 7, 3) -> (4, 3, 3, 3); Keras (4, 3, 3, 3)" in text, text


def _numpy_equals_keras(nb: Executed) -> None:
    cell = "p_numpy, inner = cnn_numpy(pneu.test.x, weights)"
    diff = nb.number(cell, r"probabilities: max \|NumPy - Keras\| = ([0-9.e+-]+)")
    same = nb.number(cell, r"same predicted class for ([\d.]+)%")
    assert diff < 1e-5 and same == 100.0, f"max difference {diff}, same class for {same} %"


def _dense_reads_784_numbers(nb: Executed) -> None:
    text = nb.text("weights = {layer.name: layer.get_weights()")
    assert "dense  (784, 2)" in text, text


CLAIMS = [
    Claim("A 3 × 3 kernel without padding shrinks a 28 × 28 image to 26 × 26.", _valid_3x3_shrinks_28_to_26),
    Claim("the same kernel with stride 2 (padding `(0, 1)`: only bottom and right), and a 4 × 4 kernel on 14 × 14 "
          "maps (padding `(1, 2)`)", _same_padding_of_the_layers_below),
    Claim("its 14 × 14 input gets one row of zeros at the top and two at the bottom (one column left, two right)",
          _same_padding_of_the_layers_below),
    Claim("and Python loops are slow.", _vectorised_is_faster),
    Claim("Keras' default (`valid`) drops a leftover odd row or column.", _keras_pooling_drops_the_odd_row),
    Claim("NumPy and `model.predict` give the same probabilities up to float32 rounding", _numpy_equals_keras),
    Claim("Copied into NumPy, a trained Keras model gives the same probabilities to float32 precision",
          _numpy_equals_keras),
    Claim("The dense layer then weighs these 7 · 7 · 16 = 784 numbers into the two logits.", _dense_reads_784_numbers),
]
