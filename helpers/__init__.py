"""Helpers for the Transfer Learning in Medicine course (every lesson imports from here).

Two parts, two folders (``docs/architecture.md``): the learner library that
lessons import (``helpers/*.py``: data, models, metrics, plots, calibration,
explain, pretrain, ...) and the cached experiment runners of particular lessons
(``helpers/experiments/``: curves, ecg, classifiers). The instructor and CI
commands live outside this package, in ``tools/`` (course, grading, judge). The
library never imports a runner, and nothing here imports ``tools`` (a test
checks).
"""
import os as _os

# TensorFlow's Python-side logs stay quiet with level 2. oneDNN's optimised CPU
# kernels stay ON: they train the course's small CNNs and RNNs about twice as
# fast on a laptop CPU (measured: 0.24 vs 0.49 s per 1024-image epoch). The one
# line TensorFlow prints about them at import time is kept out of notebook
# outputs by :func:`import_tensorflow` instead of by turning them off.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from pathlib import Path as _Path

REPO_ROOT = _Path(__file__).resolve().parent.parent
"""The course repository, found from the installed package (not the cwd)."""



def import_tensorflow():
    """Import TensorFlow and Keras once, with their C++ start-up lines kept off the output.

    TensorFlow writes a few lines (oneDNN, absl, CUDA probes) straight to file
    descriptor 2 while it loads, below Python's ``sys.stderr``; they would land
    in every notebook. They are sent to ``os.devnull`` for the import only.
    Python errors raised by the import still propagate as usual.

    No lesson calls it directly: each module that builds or trains a model calls it on import.
    """
    import sys

    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = _os.dup(2)
        devnull = _os.open(_os.devnull, _os.O_WRONLY)
        try:
            _os.dup2(devnull, 2)
            import tensorflow  # noqa: F401
            import keras  # noqa: F401
        finally:
            _os.dup2(saved, 2)
            _os.close(saved)
            _os.close(devnull)
    return sys.modules["tensorflow"]


__all__ = ["REPO_ROOT", "import_tensorflow"]
