"""Figures as static SVG images, for the files the product writes (the meeting pack).

A file a room prints or mails needs pictures, not the interactive charts: no plotly.js inside
(3.5 MB), no toolbar icons on paper. kaleido draws the figures with plotly.js as shipped in
the plotly package and the machine's Chromium, one browser for all the figures, without
MathJax and without any request leaving the machine. Where kaleido or Chromium is missing,
or drawing fails, ``svg_images`` returns None and the caller falls back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence

import plotly.graph_objects as go

PRINT_WIDTH = 900
"""Pixels the figures are drawn at: a page's width of text at 16 px shows them at about 9 pt."""
TIMEOUT = 90


def svg_images(figures: Sequence[go.Figure], width: int = PRINT_WIDTH) -> list[str] | None:
    """Each figure as SVG text (its own height, ``width`` wide), or None when they cannot be
    drawn here."""
    try:
        import kaleido
    except ImportError:
        return None

    async def draw() -> list[bytes]:
        async with kaleido.Kaleido(n=1, mathjax=False, timeout=TIMEOUT) as browser:
            return [
                await browser.calc_fig(
                    figure.to_dict(),
                    opts={
                        "format": "svg",
                        "width": width,
                        "height": figure.layout.height or 460,
                    },
                )
                for figure in figures
            ]

    # A thread of its own: the caller may already run an event loop (Streamlit, a notebook).
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="svg")
    try:
        images = pool.submit(asyncio.run, draw()).result(timeout=TIMEOUT + 30)
    except Exception:  # no Chromium, a crashed or hung browser: the caller falls back
        return None
    finally:
        pool.shutdown(wait=False)
    return [image.decode("utf-8") for image in images]
