"""helpers.device.setup: seeds, one status line, works on a CPU-only machine."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from helpers import device


def test_setup_prints_one_line_and_seeds(capsys):
    info = device.setup(seed=7)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("TensorFlow ") and "Keras" in out[0] and "seed 7" in out[0]
    first = np.random.rand(3)
    device.setup(seed=7, verbose=False)
    assert np.array_equal(first, np.random.rand(3))
    assert info["gpus"] >= 0 and ("CPU" in info["device"] or "GPU" in info["device"])


def test_mixed_precision_is_ignored_without_gpu():
    info = device.setup(seed=0, mixed_precision=True, verbose=False)
    if info["gpus"] == 0:
        assert info["policy"] == "float32"


def test_no_tensorflow_noise_on_import():
    """The first import of helpers must keep TensorFlow's C++ start-up logs out of the output."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    proc = subprocess.run([sys.executable, "-c", "from helpers.device import setup; setup(1)"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1
    assert "oneDNN" not in proc.stderr and "cuda" not in proc.stderr.lower(), proc.stderr
