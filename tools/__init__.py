"""Instructor and CI commands of the course; a lesson's learner code never imports them.

- ``python -m tools.course``: prepare the cache, copy the workspace, regenerate
  ``notebooks/`` (``release``), the timing report and the README's lesson table;
- ``python -m tools.grading``: one nbgrader cycle with sandboxed autograding;
- ``python -m tools.judge``: the hidden tests' verdicts, computed outside the
  learner's kernel (the hidden tests of ``solutions/``, which learners never
  see, call :func:`tools.judge.graded`).

The tools import the learner library (``helpers``) and its runners; ``helpers``
never imports ``tools`` (tests/repo/test_architecture.py checks both), so no
cached result depends on this package.
"""
