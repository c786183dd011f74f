"""sop_core: the S&OP dashboard's domain library. It never imports streamlit.

One subpackage per step of the meeting, imported in one direction only (a room may import the
rooms before it, never after):

    data <- forecast <- demand <- scenario <- supply <- meeting <- jobs

``charts`` (plotly figures) imports only ``data``; ``meeting`` may use it for the pack; ``jobs``
runs the long work of every room in processes of their own. ``cli``
sits on top and may import every room. Only ``data`` builds SQL. docs/ARCHITECTURE.md has the
picture and where each kind of change goes.
"""

__version__ = "0.1.0"
