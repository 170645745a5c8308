"""Shared widget plumbing: figure updates that send only what changed, and the error guard.

* :func:`make_figure` builds a FigureWidget with its first data and layout in the constructor
  (Voila keeps only the state a widget is built with) and remembers what it sent.
* :func:`replace_traces` puts new traces into a figure (inside its ``batch_update``): traces of
  the same type, name and keys are updated in place, and only the properties whose values
  differ from what was sent last are touched, so plotly validates and sends little (a slider
  move changes the y values and hover text of the error plot, not its x values or markers).
* :func:`publish_state` makes the state a view opened later starts from equal to the current
  state.
* :class:`ErrorReporting` is the guard every callback runs inside: an exception is shown in the
  widget's error area (ipywidgets would send it to a log console nobody reads), never printed.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
import plotly.graph_objects as go

from . import figures

__all__ = [
    "ErrorReporting",
    "make_figure",
    "publish_state",
    "replace_traces",
    "sent_figure",
    "update_trace",
]

logger = logging.getLogger(__name__)


def _signature(trace_json: list[dict]) -> list[tuple]:
    """What must match for traces to be updated in place rather than replaced."""
    return [(t.get("type"), t.get("name"), frozenset(t) - {"uid"}) for t in trace_json]


def _same(a, b) -> bool:
    """Equality that copes with numpy arrays and nested containers."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except (TypeError, ValueError):
            return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # containers holding arrays
        return False


def make_figure(traces: list, base_layout: dict, layout: dict) -> go.FigureWidget:
    """A FigureWidget built with ``traces`` and ``{**base_layout, **layout}``."""
    fig = go.FigureWidget(data=traces, layout={**base_layout, **layout})
    fig._se_sent = ([t.to_plotly_json() for t in traces], dict(layout))
    fig._se_base = dict(base_layout)
    return fig


def sent_figure(fig: go.FigureWidget) -> go.Figure:
    """A complete static copy of what was last sent to ``fig`` (for export).

    Not ``fig.to_dict()``: once a browser view replies to an edit (plotly's trace and layout
    deltas), plotly moves every property that view computed out of the figure's own
    properties, so ``to_dict()`` loses markers, modes and lines. The record kept by
    :func:`make_figure`, :func:`replace_traces` and :func:`update_trace` holds them all.
    """
    sent = getattr(fig, "_se_sent", None)
    if sent is None:
        return go.Figure(fig.to_dict())
    return go.Figure(data=[dict(t) for t in sent[0]],
                     layout={**getattr(fig, "_se_base", {}), **sent[1]})


def replace_traces(fig: go.FigureWidget, traces: list, layout: dict) -> bool:
    """Put ``traces`` and ``layout`` into ``fig`` (call inside ``fig.batch_update()``).

    Returns whether the traces were replaced (new trace objects then need their click
    handlers) rather than updated in place.
    """
    new = [t.to_plotly_json() for t in traces]
    sent = getattr(fig, "_se_sent", None)
    old = sent[0] if sent is not None else [t.to_plotly_json() for t in fig.data]
    replaced = _signature(old) != _signature(new)
    if replaced:
        fig.data = ()
        fig.add_traces(traces)
    else:
        for trace, before, after in zip(fig.data, old, new):
            changed = {
                k: v for k, v in after.items() if k != "uid" and not _same(before.get(k), v)
            }
            if changed:
                trace.update(changed, overwrite=True)
                for k, v in changed.items():  # update skips empty arrays; assign them
                    if isinstance(v, (list, tuple)) and not v:
                        trace[k] = v
    previous = sent[1] if sent is not None else None
    if previous is None or not all(_same(previous.get(k), v) for k, v in layout.items()):
        fig.layout.update(layout)
        # plotly's update skips empty arrays, so emptying e.g. ``shapes`` needs an assignment
        for k, v in layout.items():
            if isinstance(v, (list, tuple)) and not v:
                fig.layout[k] = v
    fig._se_sent = (new, dict(layout))
    return replaced


def update_trace(fig: go.FigureWidget, index: int, **props) -> None:
    """Set some properties of trace ``index`` and keep :func:`replace_traces`' record true.

    Every change to a figure made by :func:`make_figure` goes through this function or
    :func:`replace_traces`; otherwise the record of what was sent would go stale and a later
    update could skip a property that differs.
    """
    trace = fig.data[index]
    trace.update(props)
    sent = getattr(fig, "_se_sent", None)
    if sent is not None:
        # inside ``batch_update`` the trace shows the change only when the batch ends, so the
        # record takes the validated values from a fresh trace of the same type
        changed = type(trace)(props).to_plotly_json()
        changed.pop("uid", None)
        record = dict(sent[0][index])
        record.update(changed)
        sent[0][index] = record


def publish_state(fig: go.FigureWidget) -> None:
    """Make the state that new views of ``fig`` start from equal to its current state.

    A plotly FigureWidget syncs its whole data and layout (the ``_widget_data`` and
    ``_widget_layout`` traits) only when it is built or displayed on its own; later changes
    travel as one-off messages that only views already open receive. A view opened later
    starts from the stale state: Voila, whose page connects after the whole notebook ran,
    showed the explorer's first figures beside controls that had moved on. plotly's own
    display hook refreshes the two traits the same way; open views ignore the change.
    """
    state = fig.to_plotly_json()
    fig._widget_layout = state["layout"]
    fig._widget_data = state["data"]


class ErrorReporting:
    """Mixin: the ``_reporting`` guard around callbacks, with an HTML error area.

    The class using it provides ``error_area`` (an ipywidgets.HTML) and may override
    :meth:`_after_error` (called once an error is shown, e.g. to re-sync the controls).

    Attributes
    ----------
    last_error : Exception or None
        The last exception a callback caught and showed.
    """

    last_error: BaseException | None = None

    @contextmanager
    def _reporting(self, action: str):
        """Run a callback's work; show an exception in the error area instead of losing it."""
        try:
            yield
        except Exception as exc:  # every callback error goes to the UI
            self.last_error = exc
            logger.debug("callback failed while %s", action, exc_info=True)
            self.error_area.value = figures.error_html(action, exc)
            self.error_area.layout.display = None
            try:
                self._after_error()
            except Exception:  # the first error is the one to show
                logger.debug("could not recover after the error", exc_info=True)
        else:
            self.clear_error()

    def _after_error(self) -> None:
        """Hook run after an error is shown."""

    def clear_error(self) -> None:
        """Empty and hide the error area."""
        self.error_area.value = ""
        self.error_area.layout.display = "none"
