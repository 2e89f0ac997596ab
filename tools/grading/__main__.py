"""``python -m tools.grading``: the command line (tools.grading.cli)."""
import sys

from tools.grading.cli import main

sys.exit(main())
