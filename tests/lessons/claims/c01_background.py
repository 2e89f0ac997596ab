"""Lesson 01's claims table (see tests/lessons/claims/__init__.py).

The curve's numbers change whenever lesson 04's runner does; the prose says
only what the verdict lines print, and these checks hold the verdict lines to
the table they are computed from.
"""
import re

from claims import Claim, Executed

LESSON = "01_background"
TABLE = "rows.append((cell[\"runs\"][0][\"n_train\"]"
VERDICTS = "(n_lo, m_lo, sd_lo, *_), (n_mid, m_mid, *_), (n_all, m_all, sd_all, *_) = rows[0], rows[3], rows[-1]"


def _balance(nb: Executed) -> None:
    text = nb.text("counts = {name: {ds.label_names[k]")
    found = {name: (int(pos), int(maj)) for name, pos, maj in
             re.findall(r"^(\w+): positive label = (\d+); majority class = (\d+)", text, re.M)}
    assert found["breastmnist"][0] == 0 and found["breastmnist"][1] != 0, found
    assert found["pneumoniamnist"] == (1, 1), found


def _tiny_validation(nb: Executed) -> None:
    n = nb.number("train, val = data.label_splits(pneu, 200, seed=0)", r"with 10 labels: (\d+) validation images")
    assert 1 <= n <= 5, f"{n} validation images at 10 labels"


def _nested(nb: Executed) -> None:
    text = nb.text("train, val = data.label_splits(pneu, 200, seed=0)")
    assert "are among its 20: True" in text, text


def _rows(nb: Executed) -> list[tuple[int, float, float]]:
    rows = re.findall(r"^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+-[\d.]+$", nb.text(TABLE), re.M)
    assert len(rows) >= 4, nb.text(TABLE)
    return [(int(n), float(mean), float(sd)) for n, _, mean, sd in rows]


def _verdict_lines_follow_the_table(nb: Executed) -> None:
    rows, text = _rows(nb), nb.text(VERDICTS)
    (n_lo, m_lo, sd_lo), (n_mid, m_mid, _), (n_all, m_all, sd_all) = rows[0], rows[3], rows[-1]
    low_gain, high_gain = m_mid - m_lo, m_all - m_mid
    if abs(low_gain - high_gain) > 0.001:  # printed to three decimals
        want = f"{n_lo} -> {n_mid}" if low_gain > high_gain else f"{n_mid} -> all {n_all}"
        assert f"The larger change: {want} labels." in text, f"gains {low_gain:+.3f}, {high_gain:+.3f}: {text}"
    pairs = list(zip(rows, rows[1:]))
    for a, b in pairs:  # a fall in the printed means is a fall in the means (rounding keeps the order)
        assert b[1] >= a[1] or f"{a[0]} -> {b[0]} labels" in text, f"the mean falls from {a[0]} to {b[0]} labels, unmentioned: {text}"
    if all(b[1] > a[1] for a, b in pairs):
        assert "The mean rises at every step." in text, text
    if abs(sd_lo - sd_all) > 0.001:
        assert ("(larger with few labels)" if sd_lo > sd_all else "(not larger with few labels)") in text, text


CLAIMS = [
    Claim("BreastMNIST's positive class (malignant) is label **0**, the minority; PneumoniaMNIST's positive class "
          "(pneumonia) is label 1, the majority.", _balance),
    Claim("at the smallest budget of this lesson it would hold only the handful of images printed below.",
          _tiny_validation),
    Claim("so at one seed the 10 labels are among the 20, the 20 among the 50", _nested),
    Claim("the lines above print both and say which is larger, and whether the mean rises at every step or dips "
          "somewhere", _verdict_lines_follow_the_table),
]
