"""Instructor and CI commands of the course; a lesson's learner code never imports them.

- ``python -m tools.course``: prepare the cache, copy the workspace, regenerate
  ``notebooks/`` (``release``), the timing report and the README's lesson table;
- ``python -m tools.grading`` (a package, ``tools/grading/``): one nbgrader
  cycle with sandboxed autograding;
- ``tools.judge``: the hidden tests of ``solutions/`` (which learners never
  see) run by the grader outside the learner's kernel; they call the
  learner's functions through :func:`tools.judge.graded`.

The tools import the learner library (``helpers``) and its runners; ``helpers``
never imports ``tools`` (tests/repo/test_architecture.py checks both), so no
cached result depends on this package.
"""
