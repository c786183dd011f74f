"""Entry point for ``python -m sop_core``."""

import sys

from sop_core.data.errors import SopError

# The guard matters: forecast workers start fresh interpreters that import this module.
if __name__ == "__main__":
    try:
        from sop_core.cli import main
    except SopError as error:
        # Found while importing: a Prophet release the engine was not checked with.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    sys.exit(main())
