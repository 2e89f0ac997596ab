"""One call at the top of every notebook: seeds, quiet TensorFlow, GPU if any."""
from __future__ import annotations

import os
import platform
import random

import helpers  # sets the TensorFlow log variables before TF loads


def setup(seed: int = 42, mixed_precision: bool = False, verbose: bool = True) -> dict:
    """Seed Python, NumPy and Keras; enable GPU memory growth; print one line.

    ``mixed_precision=True`` uses float16 compute on a GPU (ignored on a CPU,
    where it is slower). Never fails on a CPU-only machine. Returns what it found.
    """
    import numpy as np

    tf = helpers.import_tensorflow()
    import keras

    tf.get_logger().setLevel("ERROR")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # already initialised: keep going
            pass
    policy = "float32"
    if mixed_precision and gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
        policy = "mixed_float16"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"GPU x{len(gpus)} ({details.get('device_name', 'unknown')})"
    else:
        device = f"CPU ({os.cpu_count()} cores; no GPU found, training runs on the CPU)"
    info = {"tensorflow": tf.__version__, "keras": keras.__version__, "device": device,
            "gpus": len(gpus), "seed": seed, "policy": policy, "python": platform.python_version()}
    if verbose:
        print(f"TensorFlow {info['tensorflow']} | Keras {info['keras']} | {device} | seed {seed}"
              + (f" | {policy}" if policy != "float32" else ""))
    return info

