"""Lesson 05's claims table (see tests/lessons/claims/__init__.py)."""
from claims import Claim, Executed

LESSON = "05_evaluation"


def _real_only_when_the_interval_excludes_zero(nb: Executed) -> None:
    cell = "cmp = metrics.paired_bootstrap(metrics.roc_auc"
    low, high = nb.numbers(cell, r"95 % CI \[([+-]\d\.\d+)")[0], nb.numbers(cell, r", ([+-]\d\.\d+)\]")[0]
    real = "a real difference" in nb.text(cell)
    assert real == (low > 0 or high < 0), f"verdict {'real' if real else 'not shown'} for CI [{low}, {high}]"


CLAIMS = [
    Claim("The difference is called real only when its 95 % CI excludes 0",
          _real_only_when_the_interval_excludes_zero),
]
