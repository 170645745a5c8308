"""Headless stand-ins for what a browser sends to widgets, shared by the explorer tests.

Both write the synced traits the front end would write; plotly's click trait is private, so
only :func:`click_point` touches it.
"""

import datetime


def click_point(fig, trace_index: int, point_index: int) -> None:
    """Deliver a click on one point the way the browser does (plotly's js->py message).

    ``_js2py_pointsCallback`` is the synced trait the front end writes on a click; plotly
    then calls every trace's ``on_click`` handlers.
    """
    trace = fig.data[trace_index]
    fig._js2py_pointsCallback = {
        "event_type": "plotly_click",
        "points": {
            "trace_indexes": [trace_index],
            "point_indexes": [point_index],
            "xs": [trace.x[point_index]],
            "ys": [trace.y[point_index]],
        },
        "device_state": None,
        "selector": None,
    }


def upload_file(widget, name: str, content: bytes) -> None:
    """Put a file into a FileUpload widget as the browser would."""
    widget.value = (
        {
            "name": name,
            "type": "application/octet-stream",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime.datetime(2026, 1, 1),
        },
    )
