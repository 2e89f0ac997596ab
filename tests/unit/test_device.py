"""helpers.device.setup: seeds, one status line, works on a CPU-only machine."""
from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO_ROOT, device


def test_setup_prints_one_line_and_seeds(capsys):
    import keras
    import tensorflow as tf

    info = device.setup(seed=7)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("TensorFlow ") and "Keras" in out[0] and "seed 7" in out[0]
    first = (random.random(), np.random.rand(3))
    weights = keras.initializers.GlorotUniform()((2, 3)).numpy()
    device.setup(seed=7, verbose=False)
    assert random.random() == first[0], "Python's random module must be seeded"
    assert np.array_equal(first[1], np.random.rand(3)), "NumPy must be seeded"
    assert np.array_equal(weights, keras.initializers.GlorotUniform()((2, 3)).numpy()), "Keras must be seeded"
    gpus = len(tf.config.list_physical_devices("GPU"))
    assert info["gpus"] == gpus and info["seed"] == 7
    assert info["device"].startswith(f"GPU x{gpus} (" if gpus else "CPU ("), info["device"]
    assert info["device"] in out[0], "the printed line names the device it found"


@pytest.fixture
def keras_policy():
    """Restore Keras' global dtype policy after a test that may change it (later tests expect float32)."""
    import keras

    before = keras.mixed_precision.global_policy()
    try:
        yield keras.mixed_precision
    finally:
        keras.mixed_precision.set_global_policy(before)


def test_mixed_precision_is_ignored_without_gpu(keras_policy):
    """float16 compute only where there is a GPU; the info, the printed line and Keras agree on every machine."""
    assert keras_policy.global_policy().name == "float32"
    info = device.setup(seed=0, mixed_precision=False, verbose=False)
    assert info["policy"] == keras_policy.global_policy().name == "float32"
    info = device.setup(seed=0, mixed_precision=True, verbose=False)
    expected = "mixed_float16" if info["gpus"] else "float32"
    assert info["policy"] == expected, f"{info['gpus']} GPU(s): the policy must be {expected}"
    assert keras_policy.global_policy().name == expected, "Keras' global policy must be the one reported"


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


# The supported platforms (README "Platforms") as marker variables, and the TensorFlow build each installs.
PLATFORMS = {
    "Linux x86_64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
                     "tensorflow-cpu"),
    "Linux aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
                      "tensorflow"),
    "Windows x86_64": ({"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
                       "tensorflow-cpu"),
    "macOS arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
                    "tensorflow"),
}


def test_pins_follow_the_platform_markers(tmp_path):
    """pins() keeps exactly the lines whose marker holds on the platform asked about, for each supported one."""
    from importlib.metadata import version

    # requirements.txt with its own markers, each TensorFlow build given a version of its own
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    marked = [line.replace("==2.21.0", "==1.0.cpu") if line.startswith("tensorflow-cpu==")
              else line.replace("==2.21.0", "==2.0.full") if line.startswith("tensorflow==") else line
              for line in lines]
    assert marked != lines, "requirements.txt has no tensorflow/tensorflow-cpu pins to check"
    (tmp_path / "requirements.txt").write_text("\n".join(marked) + "\n")
    for platform_row, (env, build) in PLATFORMS.items():
        found = device.pins(tmp_path / "requirements.txt", environment=env)
        assert found["tensorflow"] == {"tensorflow-cpu": "1.0.cpu", "tensorflow": "2.0.full"}[build], \
            f"{platform_row} must install {build}: {found['tensorflow']}"
        assert found["keras"] == device.pins(environment=env)["keras"], platform_row
    # a marker false everywhere drops its line even when it comes last
    (tmp_path / "never.txt").write_text('numpy==2.4.6\nnumpy==0.0.1; python_version < "3"\n')
    assert device.pins(tmp_path / "never.txt") == {"numpy": "2.4.6"}
    # here: the pins of this machine are the installed versions
    pins = device.pins()
    assert set(device.PINNED_IN_SETUP) <= set(pins)
    assert pins["numpy"] == version("numpy") and pins["keras"] == version("keras")


def test_setup_warns_in_one_line_when_versions_differ_from_the_pins():
    pinned = {"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6"}
    assert device.version_warning(dict(pinned), pinned) is None
    line = device.version_warning({**pinned, "numpy": "1.26.4"}, pinned)
    assert line.startswith("WARNING: numpy 1.26.4 (course pins 2.4.6)") and "\n" not in line
    assert "make setup" in line and "keras" not in line
