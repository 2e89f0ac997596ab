"""Helpers for the Transfer Learning in Medicine course.

Plumbing lives here (data, models, device setup, metrics, plots, cache);
teaching stays in the notebooks.
"""
import os as _os

# TensorFlow prints start-up noise into notebook outputs unless both are set
# before it is first imported; every helper module imports this package first.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from pathlib import Path as _Path

REPO_ROOT = _Path(__file__).resolve().parent.parent
"""The course repository, found from the installed package (not the cwd)."""

__all__ = ["REPO_ROOT"]
