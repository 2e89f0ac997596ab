"""Lesson 05's claims table (see tests/lessons/claims/__init__.py)."""
import re

from claims import Claim, Executed

LESSON = "05_evaluation"
SETUP = 'best = curves.best_run("breastmnist", seed=0)'


def _real_only_when_the_interval_excludes_zero(nb: Executed) -> None:
    cell = "cmp = metrics.paired_bootstrap(metrics.roc_auc"
    low, high = nb.numbers(cell, r"95 % CI \[([+-]\d\.\d+)")[0], nb.numbers(cell, r", ([+-]\d\.\d+)\]")[0]
    real = "a real difference" in nb.text(cell)
    assert real == (low > 0 or high < 0), f"verdict {'real' if real else 'not shown'} for CI [{low}, {high}]"


def _malignant(split: str):
    def count(nb: Executed) -> int:
        return int(nb.number(SETUP, rf"{split} patients: \d+, of which malignant: (\d+)"))
    return count


def _a_few_dozen_malignant_test_cases_and_an_uncertain_auc(nb: Executed) -> None:
    n = _malignant("test")(nb)
    assert 20 <= n <= 99, f"{n} malignant test images"
    low, high = (float(v) for v in re.search(r"roc_auc: [\d.]+\s+95 % CI \[([\d.]+), ([\d.]+)\]",
                                              nb.text('for name in ["roc_auc", "sensitivity"')).groups())
    assert high - low >= 0.03, f"AUC CI [{low}, {high}]: not uncertain by several points"


def _a_few_dozen_malignant_validation_cases(nb: Executed) -> None:
    n = _malignant("validation")(nb)
    assert 12 <= n <= 99, f"{n} malignant validation images"


def _the_majority_baseline(nb: Executed) -> None:
    share_malignant = nb.number(SETUP, r"test patients: \d+, of which malignant: \d+ \((\d+)%\)") / 100
    cell = "p_nobody = np.zeros_like(p_test)"
    acc0 = nb.number(cell, r"'everyone is benign': accuracy ([\d.]+)")
    sens0 = nb.number(cell, r"'everyone is benign': accuracy [\d.]+, sensitivity ([\d.]+)")
    assert abs(acc0 - (1 - share_malignant)) <= 0.006 and sens0 == 0, (acc0, share_malignant, sens0)


def _recalibration_keeps_the_auc(nb: Executed) -> None:
    cell = "T = calibration.fit_temperature(y_val, p_val, positive_label=POS)"
    before = nb.number(cell, r"AUC before ([\d.]+)")
    after = nb.number(cell, r"after Platt ([\d.]+)")
    assert before == after, f"AUC {before} before, {after} after"


def _recalibration_verdicts_follow_the_intervals(nb: Executed) -> None:
    text = nb.text("for name, q in list(versions.items())[1:]:")
    lines = re.findall(r"\[([+-]\d\.\d+), ([+-]\d\.\d+)\] -> (.+)$", text, re.M)
    assert len(lines) == 4, text
    for low, high, verdict in lines:
        want = "better" if float(high) < 0 else "worse" if float(low) > 0 else "no change shown"
        assert verdict.startswith(want), f"[{low}, {high}] -> {verdict}"


CLAIMS = [
    Claim("The difference is called real only when its 95 % CI excludes 0",
          _real_only_when_the_interval_excludes_zero),
    Claim('"A real difference" means that the CI excludes 0', _real_only_when_the_interval_excludes_zero),
    Claim("with only a few dozen malignant test cases (printed above), the AUC is uncertain by several points",
          _a_few_dozen_malignant_test_cases_and_an_uncertain_auc),
    Claim("its accuracy equals the share of benign cases, while it finds no cancer at all", _the_majority_baseline),
    Claim("Neither changes the ranking of patients, so the AUC stays the same", _recalibration_keeps_the_auc),
    Claim("Recalibration is cheap and never changes the AUC", _recalibration_keeps_the_auc),
    Claim("the verdicts above say whether it did here, for each version and each score",
          _recalibration_verdicts_follow_the_intervals),
    Claim("a few dozen malignant validation cases pin a threshold down only roughly",
          _a_few_dozen_malignant_validation_cases),
]
