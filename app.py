"""S&OP meeting dashboard: `streamlit run app.py`.

The shell (page config, navigation over pages/, global filters, error boundary) lives in
``sop_ui.shell``; this script only runs it.
"""

from __future__ import annotations

from sop_ui.shell import main

if __name__ == "__main__":
    main()
