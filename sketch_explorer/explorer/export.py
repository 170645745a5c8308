"""A standalone HTML page of what the explorer shows (pure: figures and HTML in, text out).

The page holds every figure as plotly's own HTML (:func:`plotly.io.to_html`, plotly.js inlined
once, in the first figure, so the file opens offline) and the text panels as the explorer
shows them. The panels are HTML the explorer built with every name escaped
(:func:`~.figures.escape`); headings and the title are escaped here. plotly writes each
figure's JSON with ``<``, ``>`` and ``/`` as ``\\u`` escapes, so no name can close the script
that draws it.

What is not kept: interaction with Python. Hover, zoom and pan work in the page; clicks, the
slider and the controls do not, since nothing computes behind them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import plotly.io as pio

from .figures import escape

__all__ = ["Block", "page_html"]

#: One piece of the page: ``("heading", text)``, ``("html", trusted_html)``,
#: ``("figure", plotly figure)`` or ``("row", [blocks])`` (side by side).
Block = tuple

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin: 18px 0 6px; }
.se-row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.se-note { color: #555; font-size: 12px; }
table { border-collapse: separate; }
"""


def page_html(title: str, blocks: Sequence[Block], *, note: str = "") -> str:
    """A complete HTML document of ``blocks``.

    Parameters
    ----------
    title : str
        Plain text (escaped here).
    blocks : sequence of Block
        See :data:`Block`. ``"html"`` blocks are inserted as they are: pass only HTML built
        with escaped names (the explorer's panels are).
    note : str, optional
        Plain text under the title.

    Returns
    -------
    str
    """
    counter = {"figures": 0}

    def render(block) -> str:
        kind, payload = block
        if kind == "heading":
            return f"<h2>{escape(payload)}</h2>"
        if kind == "html":
            return f"<div class='se-panel'>{payload}</div>"
        if kind == "figure":
            k = counter["figures"]
            counter["figures"] += 1
            return pio.to_html(
                payload,
                include_plotlyjs=k == 0,
                full_html=False,
                div_id=f"se-figure-{k}",
                config={"displaylogo": False},
            )
        if kind == "row":
            return "<div class='se-row'>" + "".join(render(b) for b in payload) + "</div>"
        raise ValueError(f"unknown block kind {kind!r}; kinds: heading, html, figure, row")

    body = "".join(render(b) for b in blocks)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='se-note'>{escape(note)} Exported {stamp} by "
        "sketch_explorer; the figures keep hover and zoom, the controls are not "
        f"included.</p>{body}</body></html>"
    )
