"""Entry point for ``python -m sop_core``."""

import sys

from sop_core.cli import main

sys.exit(main())
