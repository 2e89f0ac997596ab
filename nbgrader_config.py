"""nbgrader configuration of the course (instructor side).

solutions/  = nbgrader's source folder (instructor version, hidden tests)
notebooks/  = nbgrader's release folder (student version, generated)
The exchange root is ./exchange unless COURSE_EXCHANGE is set (e.g. to
/srv/nbgrader/exchange on JupyterHub); gradebook.db sits at the course root.
The settings themselves live in one place, tools/grading/settings.py, which
the throwaway course of every sandboxed grading uses too.
"""
import os
from pathlib import Path

from tools.grading.settings import apply_course_settings
from helpers.env import setting

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

COURSE_ROOT = Path(setting("COURSE_ROOT") or Path(__file__).resolve().parent)
apply_course_settings(c, COURSE_ROOT)
