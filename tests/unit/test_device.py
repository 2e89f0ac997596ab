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


def test_check_python_names_what_to_use_instead():
    """Which machines and Pythons does `make setup` refuse before pip runs, and does it say why?"""
    assert device.platform_problem((3, 11), "Linux", "x86_64") is None
    assert device.platform_problem((3, 13), "Windows", "AMD64") is None
    assert device.platform_problem((3, 12), "Darwin", "arm64") is None
    assert device.platform_problem((3, 11), "Linux", "aarch64") is None
    intel_mac = device.platform_problem((3, 11), "Darwin", "x86_64")
    assert intel_mac and "Intel Mac" in intel_mac and "Colab" in intel_mac
    old = device.platform_problem((3, 10), "Linux", "x86_64")
    assert old and "Python 3.10" in old and "3.11" in old
    assert "py -3.11" in device.platform_problem((3, 14), "Windows", "AMD64")
    proc = subprocess.run([sys.executable, "-m", "helpers.device", "check-python"], capture_output=True, text=True)
    assert proc.returncode == (1 if device.platform_problem() else 0), proc.stderr


def test_pins_follow_the_platform_markers():
    pins = device.pins()
    assert set(device.PINNED_IN_SETUP) <= set(pins)
    from importlib.metadata import version
    assert pins["numpy"] == version("numpy") and pins["keras"] == version("keras")


def test_setup_warns_in_one_line_when_versions_differ_from_the_pins():
    pinned = {"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6"}
    assert device.version_warning(dict(pinned), pinned) is None
    line = device.version_warning({**pinned, "numpy": "1.26.4"}, pinned)
    assert line.startswith("WARNING: numpy 1.26.4 (course pins 2.4.6)") and "\n" not in line
    assert "make setup" in line and "keras" not in line
