"""Lesson 04's claims table (see tests/lessons/claims/__init__.py).

The verdicts of the label-budget comparison (helps, hurts, no difference shown,
and what each comparison is) are printed by code from the numbers; the claims
here back the sentences that stay in markdown.
"""
import math
import re

from claims import Claim, Executed

LESSON = "04_finetune"

SNIPPET = 'for problem, kwargs in [("missing weights file"'


def _snippet_lines(nb: Executed) -> dict[str, str]:
    lines = [line.split("->", 1) for line in nb.text(SNIPPET).splitlines() if "->" in line]
    return {problem.strip(): outcome.strip() for problem, outcome in lines}


def _two_problems_stop_it(nb: Executed) -> None:
    out = _snippet_lines(nb)
    stopped = sorted(p for p, o in out.items() if o.startswith("fails"))
    assert stopped == ["missing weights file", "no compile()"], f"problems that stop the snippet: {stopped}\n{out}"


def _two_problems_train_quietly(nb: Executed) -> None:
    out = _snippet_lines(nb)
    for problem in ("no channel axis", "uint8 pixels (0-255)", "none of them"):
        assert out[problem].startswith("trains"), f"{problem}: {out[problem]}"
    loss = {p: float(re.search(r"loss ([\d.]+)", o).group(1)) for p, o in out.items() if o.startswith("trains")}
    assert loss["uint8 pixels (0-255)"] > 2 * loss["none of them"], f"the uint8 line's loss is not clearly higher: {loss}"


def _identical_projections_score_chance(nb: Executed) -> None:
    cell = "def nt_xent_numpy(z_a, z_b, temperature=0.2):"
    same = nb.number(cell, r"identical projections: ([\d.]+)")
    chance = nb.number(cell, r"log\(11\) = ([\d.]+)")
    assert math.isclose(same, chance, abs_tol=1e-4), f"identical projections {same} vs log(2N - 1) {chance}"


def _random_projections_score_worse_than_chance(nb: Executed) -> None:
    cell = "def nt_xent_numpy(z_a, z_b, temperature=0.2):"
    numpy_loss, tf_loss = nb.number(cell, r"NumPy ([\d.]+)"), nb.number(cell, r"TensorFlow ([\d.]+)")
    chance = nb.number(cell, r"log\(11\) = ([\d.]+)")
    assert math.isclose(numpy_loss, tf_loss, rel_tol=1e-4), (numpy_loss, tf_loss)
    assert numpy_loss > chance, f"random projections {numpy_loss} are not above chance {chance}"


def _eight_steps_barely_move_the_loss(nb: Executed) -> None:
    cell = "live = SimCLR(build_cnn_base(**pretrain.ARCH), temperature=0.2)"
    text = nb.text(cell)
    losses = [float(v) for v in re.search(r"loss per epoch: \[([^\]]+)\]", text).group(1).split(",")]
    chance = nb.number(cell, r"chance log\(511\) = ([\d.]+)")
    assert all(abs(v - chance) < 0.05 * chance for v in losses), f"live losses {losses} vs chance {chance}"


def _the_mismatch_is_a_missing_bias(nb: Executed) -> None:
    text = nb.text("wrong_base = build_cnn_base(input_shape=(28, 28, 1), filters=(16, 32, 64), batch_norm=False)")
    assert "bias" in text, f"the printed error does not name a bias:\n{text[:600]}"


def _pooling_gives_64_numbers_and_the_last_maps_are_3x3x64(nb: Executed) -> None:
    text = nb.text('print(f"{layer.name:12s} {type(layer).__name__:22s}')
    assert "(None, 64)" in text, text
    assert "(None, 3, 3, 64)" in text, text


def _pretraining_uses_the_training_xrays_only(nb: Executed) -> None:
    cell = 'print("simclr_chest:", pretrain.SOURCES["simclr_chest"]["description"])'
    n = nb.number(cell, r"pretrains on (\d+) images")
    train = nb.number(cell, r"train split \((\d+) images\)")
    assert n == train, f"pretrained on {n} images, the train split holds {train}"


def _a_couple_of_validation_images(nb: Executed) -> None:
    n_val = nb.number("train, val = data.label_splits(pneu, 20, seed=0)", r"(\d+) validation images")
    assert n_val <= 4, f"{n_val} validation images is more than a couple"


def _phase_two_rate_is_30_times_lower(nb: Executed) -> None:
    phase1 = nb.code("history = model.fit(train.x[idx], train.y[idx]").source
    phase2 = nb.code("set_trainable(base, 1)                              # your exercise 2").source
    lr1 = float(re.search(r"Adam\(([\de.-]+)\)", phase1).group(1))
    lr2 = float(re.search(r"Adam\(([\de.-]+)\)", phase2).group(1))
    assert math.isclose(lr1 / lr2, 30), (lr1, lr2)


def _phase_two_unfreezes_only_the_top_block(nb: Executed) -> None:
    text = nb.text("set_trainable(base, 1)                              # your exercise 2")
    paths = re.search(r"trainable now: \[([^\]]*)\]", text).group(1)
    assert "block3_conv/kernel" in paths and "block1" not in paths and "block2" not in paths, paths
    assert "gamma" not in paths and "beta" not in paths, f"batch norm must stay frozen: {paths}"


def _pneumonia_validation_above_test(nb: Executed) -> None:
    text = nb.text('val, test = np.mean([r["val_auc"] for r in cell["runs"]]), curves.seed_aucs(cell).mean()')
    rows = re.findall(r"pneumoniamnist\s+(\w+).*?validation AUC ([\d.]+), test AUC ([\d.]+)", text)
    assert len(rows) == 2, text
    for family, val, test in rows:
        assert float(val) > float(test), f"{family}: validation {val} is not above test {test}"
        assert float(val) >= 0.95, f"{family}: validation AUC {val} is not near the top of the scale"


def _benchmarks_are_resnets_on_every_label(nb: Executed) -> None:
    text = nb.text("real = [r for r in all_rows if r[\"real\"]]")
    assert text.count("ResNet") >= 2, text[-600:]


def _the_table_names_each_comparison(nb: Executed) -> None:
    text = nb.text("real = [r for r in all_rows if r[\"real\"]]")
    assert "same-domain self-supervised pretraining" in text and "cross-dataset transfer" in text, text[:800]
    assert "pneumoniamnist" not in [line.split()[0] for line in text.splitlines()
                                    if "cross-dataset" in line], "PneumoniaMNIST is not cross-dataset transfer"


CLAIMS = [
    Claim("Two problems stop the snippet with an error that names them.", _two_problems_stop_it),
    Claim("without a channel axis Keras adds one and trains, and `uint8` pixels train too", _two_problems_train_quietly),
    Claim("compare the loss on that line with the last one", _two_problems_train_quietly),
    Claim("the loss is exactly log(2N − 1), the second line", _identical_projections_score_chance),
    Claim("Random projections (the first line) can score *worse* than chance", _random_projections_score_worse_than_chance),
    Claim("Eight steps barely move the loss from the chance level.", _eight_steps_barely_move_the_loss),
    Claim("Here the new model's convolutions have a bias that the file lacks", _the_mismatch_is_a_missing_bias),
    Claim("global average pooling turns the last feature maps into one 64-number vector per image",
          _pooling_gives_64_numbers_and_the_last_maps_are_3x3x64),
    Claim("(3 × 3 × 64 = 576 numbers rather than 64 averages)", _pooling_gives_64_numbers_and_the_last_maps_are_3x3x64),
    Claim("learns this way from PneumoniaMNIST's **training** X-rays, without their labels",
          _pretraining_uses_the_training_xrays_only),
    Claim("so it holds only a couple of images", _a_couple_of_validation_images),
    Claim("at a learning rate 30 times lower", _phase_two_rate_is_30_times_lower),
    Claim("Unfreeze the top convolutional block of the same base (batch norm stays frozen)",
          _phase_two_unfreezes_only_the_top_block),
    Claim("Validation images are therefore easier than test images", _pneumonia_validation_above_test),
    Claim("a validation AUC near the top of the scale says little", _pneumonia_validation_above_test),
    Claim("The MedMNIST v2 anchors printed above (ResNets trained on every label)", _benchmarks_are_resnets_on_every_label),
    Claim("naming each comparison for what it is", _the_table_names_each_comparison),
]
