"""Entry point for ``python -m sop_core``."""

import sys

from sop_core.cli import main

# The guard matters: forecast workers start fresh interpreters that import this module.
if __name__ == "__main__":
    sys.exit(main())
