"""Execute notebooks and store them with small outputs (readable on GitHub and nbviewer).

Usage: ``python scripts/store_notebooks.py notebooks/01_explorer.ipynb [...]``

Each notebook is executed in place with the ``python3`` kernel, then trimmed: the saved widget
state (megabytes of model JSON, plotly's whole bundle for FigureWidgets) and widget-view
outputs are dropped, as is per-cell execution timing metadata. Static plotly figures, tables
and printed numbers are kept. Widgets show as live views when the notebook is run again.
"""

import sys

import nbformat
from nbclient import NotebookClient

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def store(path: str) -> int:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    nbformat.write(nb, path)
    return len(nbformat.writes(nb))


if __name__ == "__main__":
    for p in sys.argv[1:]:
        size = store(p)
        sys.stderr.write(f"{p}: {size / 1024:.0f} kB\n")
