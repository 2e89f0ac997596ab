"""nbgrader configuration of the course (instructor side).

solutions/  = nbgrader's source folder (instructor version, hidden tests)
notebooks/  = nbgrader's release folder (student version, generated)
The exchange root is ./exchange unless COURSE_EXCHANGE is set (e.g. to
/srv/nbgrader/exchange on JupyterHub); gradebook.db sits at the course root.
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

COURSE_ROOT = Path(os.environ.get("COURSE_ROOT", Path(__file__).resolve().parent))

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "transfer-learning-medicine")
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + str(COURSE_ROOT / "gradebook.db")
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", str(COURSE_ROOT / "exchange"))

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading executes whole lessons, training cells included: see docs/instructor.md
# for how these numbers were chosen.
c.ExecutePreprocessor.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.ExecutePreprocessor.interrupt_on_timeout = True

# Feedback students receive: nbgrader's default renders the hidden tests (and tracebacks quoting them)
# into the HTML; the course's filter strips them (tools.grading.strip_hidden_tests).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tools.grading.FeedbackFilter",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
