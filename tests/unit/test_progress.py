"""helpers.progress: does a bar leave readable text (not a widget frozen at 0 %) in an executed notebook?"""
from __future__ import annotations

import numpy as np
import pytest
from tqdm.notebook import tqdm as notebook_tqdm
from tqdm.std import tqdm as text_tqdm

from helpers.progress import bar


def test_a_bar_is_text_even_where_a_notebook_widget_would_be_chosen(monkeypatch):
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", notebook_tqdm)  # as inside a Jupyter kernel
    b = bar(range(3), "runs", enabled=False)
    assert isinstance(b, text_tqdm) and not isinstance(b, notebook_tqdm)


def test_iterating_yields_every_item_and_the_last_state_reads_complete(capsys):
    assert list(bar(["a", "b", "c"], "runs")) == ["a", "b", "c"]
    err = capsys.readouterr().err
    last = err.split("\r")[-1]
    assert "runs" in last and "100%" in last and "3/3" in last, f"the bar's last state: {last!r}"


def test_a_bar_updated_by_hand_counts_epochs(capsys):
    b = bar(desc="training", total=4, unit="epoch")
    for _ in range(4):
        b.update(1)
    b.close()
    last = capsys.readouterr().err.split("\r")[-1]
    assert "100%" in last and "4/4" in last and "epoch" in last, last


def test_disabled_bars_print_nothing(capsys):
    assert sum(bar(range(5), "quiet", enabled=False)) == 10
    assert capsys.readouterr().err == ""


def test_a_bar_needs_items_or_a_total():
    with pytest.raises(ValueError, match="items .* or the total"):
        bar(desc="nothing to count")


def test_the_epoch_callback_counts_every_epoch_of_a_fit(capsys):
    import keras

    from helpers.progress import epochs

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((4, 2)), np.zeros(4), epochs=3, verbose=0, callbacks=[epochs(3, "fit")])
    last = capsys.readouterr().err.split("\r")[-1]
    assert "fit" in last and "3/3" in last and "loss=" in last, last


def test_a_transient_bar_over_cached_results_prints_nothing_but_a_slow_one_shows(capsys):
    """A bar cleared when done stays silent for a quick loop (cached results), so no '0/5' is left behind."""
    import time

    assert sum(bar(range(5), "cached steps", leave=False)) == 10
    assert capsys.readouterr().err == "", "a quick transient loop must print nothing"
    for _ in bar(range(3), "training steps", leave=False, delay=0.05):
        time.sleep(0.3)  # past the delay and tqdm's 0.5 s refresh interval
    assert "training steps" in capsys.readouterr().err, "a slow transient loop must show its bar"
