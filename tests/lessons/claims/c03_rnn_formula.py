"""Lesson 03's claims table (see tests/lessons/claims/__init__.py)."""
import re

from claims import Claim, Executed

LESSON = "03_rnn_formula"


def _splits(nb: Executed) -> None:
    text = nb.text('train, val, test = signals.ecg200_splits(seed=0)')
    sizes = {name: int(n) for name, n in re.findall(r"^(train|validation|test)\s+(\d+) beats", text, re.M)}
    assert sizes == {"train": 80, "validation": 20, "test": 100}, sizes


def _the_gradient_verdict_follows_the_norms(nb: Executed) -> None:
    cell = "h_seq = states[1]"
    n10 = nb.number(cell, r"\b10: ([0-9.e+-]+)")
    n90 = nb.number(cell, r"\b90: ([0-9.e+-]+)")
    text = nb.text(cell)
    ratio = n90 / n10
    want = "shrinks" if ratio < 0.1 else "grows" if ratio > 10 else "neither shrinks nor grows"
    assert f"the norm {want}" in text, f"norms {n10} -> {n90} (x {ratio:.2g}) but the verdict reads: {text}"


def _encoder_shapes(nb: Executed) -> None:
    text = nb.text("demo = models.build_ecg_rnn(")
    assert "(None, 24, 32)" in text, text
    assert "(None, 768)" in text, text


def _ecg5000(nb: Executed) -> None:
    text = nb.text("src = signals.ecg5000_beats()")
    counts = [int(n) for n in re.findall(r"': (\d+)", text)]
    assert len(counts) == 5 and sum(counts) == 500, counts


def _rule(nb: Executed) -> None:
    text = nb.text('for family, candidates in (("scratch", runs), ("transfer", transfer_candidates))')
    rows = re.findall(r"^(scratch|transfer)\s+(last state|all states)\s+[\d.]+\s+([\d.]+) ± ([\d.]+)", text, re.M)
    chosen = dict(re.findall(r"-> (scratch|transfer) uses '([^']+)'", text))
    assert len(rows) == 4 and set(chosen) == {"scratch", "transfer"}, text
    for family in ("scratch", "transfer"):
        score = {name: (float(m), float(se)) for f, name, m, se in rows if f == family}
        top = max(score, key=lambda n: score[n][0])
        margin = score["last state"][0] - (score[top][0] - score[top][1])
        if abs(margin) <= 0.001:  # too close to call from numbers printed to three decimals
            continue
        want = "last state" if margin >= 0 else top
        assert chosen[family] == want, f"{family}: {score}, chose {chosen[family]!r}, the rule gives {want!r}"


def _ten_seeds_at_every_budget(nb: Executed) -> None:
    text = nb.text("def aucs(group):")
    seeds = [int(s) for s in re.findall(r"^\s*\d+\s+(\d+)\s+0\.\d+ ±", text, re.M)]
    assert len(seeds) == 4 and min(seeds) >= 10, f"seeds per budget: {seeds}"


def _verdicts_follow_the_intervals(nb: Executed) -> None:
    for cell in ("def test_probs(group):", "def aucs(group):"):
        lines = re.findall(r"\[([+-]\d\.\d+), ([+-]\d\.\d+)\][^\n]*?-> (.+)$", nb.text(cell), re.M)
        assert lines, nb.text(cell)
        for low, high, verdict in lines:
            low, high = float(low), float(high)
            shown = verdict.strip() != "no difference shown"
            assert shown == (low > 0 or high < 0), f"[{low}, {high}] -> {verdict}"


def _published_deep_models_a_few_points_ahead(nb: Executed) -> None:
    points = nb.numbers('published = {', r"\(([+-]\d+\.\d) points over 1-NN\)")
    assert 0 < max(points) <= 6, f"points over the published 1-NN: {points}"


def _accuracy_intervals_span_about_ten_points(nb: Executed) -> None:
    text = nb.text('report = ecg.bootstrap_report(test.y, scores, pairs=[])')
    widths = [float(hi) - float(lo) for lo, hi in re.findall(r"^.{40} [\d.]+ \[([\d.]+), ([\d.]+)\]", text, re.M)]
    assert widths and all(0.07 <= w <= 0.3 for w in widths), f"accuracy CI widths: {widths}"


def _validation_test_gap_printed(nb: Executed) -> None:
    text = nb.text('final = {f"GRU from scratch ({best})"')
    assert re.search(r"validation (above|below) test by \d\.\d{3}", text), text


CLAIMS = [
    Claim("It comes as 100 training and 100 test beats. We cut a stratified, seeded **validation** set of 20 beats",
          _splits),
    Claim("the printed values, and the verdict line computed from them, say what this trained network does on this "
          "beat.", _the_gradient_verdict_follows_the_norms),
    Claim("turns each beat into 24 steps of 32 local shape features", _encoder_shapes),
    Claim("(768 inputs when it reads all states, and only 80 training beats)", _encoder_shapes),
    Claim("500 labelled beats from another recording (a patient with heart failure), five classes of beat.", _ecg5000),
    Claim("take the candidate with the best mean validation AUC over the seeds, unless the simpler candidate (the last "
          "state: far fewer weights in the head) is within one standard error of that mean", _rule),
    Claim("so each budget gets the same **10 seeds** as the full budget", _ten_seeds_at_every_budget),
    Claim('The verdict is printed from the interval: better or worse only when it excludes 0, "no difference shown" '
          "otherwise", _verdicts_follow_the_intervals),
    Claim('"transfer helps" only when it lies above 0, "transfer hurts" only when it lies below, "no difference shown" '
          "otherwise.", _verdicts_follow_the_intervals),
    Claim("the published accuracies printed above put the best deep models only a few points ahead of it.",
          _published_deep_models_a_few_points_ahead),
    Claim("a 95 % CI on accuracy spans roughly ten points or more (the ensemble table prints them)",
          _accuracy_intervals_span_about_ten_points),
    Claim("The line under the test table prints which way they differ here, and by how much.",
          _validation_test_gap_printed),
]
