"""The explorer's graph editor: controls that edit the draft, and import / export.

:class:`GraphEditor` holds widgets only. The draft lives in the explorer's controller
(:attr:`ExplorerController.draft`); every button calls :meth:`Explorer.edit` (or
:meth:`Explorer.undo_edit`, :meth:`Explorer.new_graph`, :meth:`Explorer.load_file`) inside the
explorer's error guard, so a refused edit shows its message in the explorer's error area and
changes nothing. Names typed or chosen here are data: dropdowns show them as text, the status
panel escapes them.
"""

from __future__ import annotations

from collections.abc import Hashable
from contextlib import contextmanager
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ..io import dumps_graph
from . import compare_figures
from .download import Download, show_loaded_file

if TYPE_CHECKING:  # pragma: no cover
    from .app import Explorer

__all__ = ["GraphEditor"]

_BUTTON = widgets.Layout(width="auto")


def _button(text: str, css: str, tooltip: str = "", style: str = "") -> widgets.Button:
    b = widgets.Button(description=text, tooltip=tooltip or text, layout=_BUTTON,
                       button_style=style)
    b.add_class(css)
    return b


def _size(n: int) -> str:
    return f"{n / 1024:.1f} kB" if n >= 1024 else f"{n} bytes"


class GraphEditor:
    """Edit the explorer's graph by hand; import and export it.

    Parameters
    ----------
    explorer : Explorer
        The explorer whose draft this edits.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The editor (CSS class ``se-editor``).
    object, parent : ipywidgets.Dropdown
        The object an edit acts on (it follows the node clicked in the graph), and the parent
        for connect / disconnect (objects and the output).
    name, module, attributes : ipywidgets.Text / Combobox
        New name (add, rename), module (add object; add, rename, remove module), attribute
        vector as numbers separated by commas or spaces.
    weight : ipywidgets.FloatText
        Weight of a connection, in (0, 1].
    status : ipywidgets.HTML
        The draft's state, the last edit in words, and the selected node's inputs.
    download_json, download_graphml : Download
        The shown graph as node-link JSON and as GraphML.
    upload : ipywidgets.FileUpload
        Import a ``.json`` or ``.graphml`` file (the same as the explorer's graph-file input).
    """

    def __init__(self, explorer: "Explorer") -> None:
        self._explorer = explorer
        self._quiet = 0
        text = widgets.Layout(width="230px")

        self.object = widgets.Dropdown(description="object", layout=text)
        self.object.add_class("se-edit-object")
        self.parent = widgets.Dropdown(description="parent", layout=text)
        self.parent.add_class("se-edit-parent")
        self.name = widgets.Text(description="new name", placeholder="e.g. chair 2: leg",
                                 layout=text)
        self.name.add_class("se-edit-name")
        self.module = widgets.Combobox(description="module", placeholder="pick or type",
                                       ensure_option=False, layout=text)
        self.module.add_class("se-edit-module")
        self.attributes = widgets.Text(description="attributes", value="1, 0.5, 0.25",
                                       placeholder="0.6, 0.8",
                                       layout=widgets.Layout(width="300px"))
        self.attributes.add_class("se-edit-attributes")
        # unbounded, so a typed 1.5 reaches the draft's check and its message names 1.5
        self.weight = widgets.FloatText(value=0.5, step=0.05, description="weight w",
                                        layout=text)
        self.weight.add_class("se-edit-weight")

        self.add_object = _button("add object", "se-edit-add-object",
                                  "add an object named 'new name' of 'module' with 'attributes'")
        self.set_attributes = _button("set attributes", "se-edit-set-attributes",
                                      "give 'object' the vector in 'attributes'")
        self.rename = _button("rename", "se-edit-rename", "rename 'object' to 'new name'")
        self.remove_object = _button("remove object", "se-edit-remove-object",
                                     "remove 'object'; its parents' inputs are renormalised",
                                     "warning")
        self.connect = _button("connect / set weight", "se-edit-connect",
                               "make 'object' an input of 'parent' with weight w")
        self.disconnect = _button("disconnect", "se-edit-disconnect",
                                  "remove the edge 'object' → 'parent'")
        self.add_module = _button("add module", "se-edit-add-module",
                                  "declare the module typed in 'module'")
        self.rename_module = _button("rename module", "se-edit-rename-module",
                                     "rename module 'module' to 'new name'")
        self.remove_module = _button("remove module", "se-edit-remove-module",
                                     "remove module 'module' and all its objects", "warning")
        self.undo = _button("undo", "se-edit-undo", "go back one edit or input change")
        self.new = _button("new empty graph", "se-edit-new",
                           "start from the output alone; the shown graph stays until the "
                           "draft is valid")

        self.status = widgets.HTML()
        self.status.add_class("se-editor-status")
        rule = widgets.HTML(compare_figures.weight_rule_html())

        self.download_json = Download(filename="graph.json", mime="application/json",
                                      label="⬇ node-link JSON")
        self.download_json.add_class("se-download-json")
        self.download_graphml = Download(filename="graph.graphml", mime="application/xml",
                                         label="⬇ GraphML")
        self.download_graphml.add_class("se-download-graphml")
        self.upload = widgets.FileUpload(accept=".json,.graphml,.xml", multiple=False,
                                         description="import file")
        self.upload.add_class("se-import-upload")

        label = widgets.HTML
        self.widget = widgets.VBox(
            [
                label("<span style='color:#555;font-size:12px'>Edits apply to the graph shown "
                      "above (or to a new empty graph). Every edit that leaves a valid graph "
                      "re-sketches it; a refused edit shows why in the red box and changes "
                      "nothing.</span>"),
                widgets.HBox([self.object, self.name, self.add_object, self.rename,
                              self.remove_object]),
                widgets.HBox([self.module, self.attributes, self.set_attributes]),
                widgets.HBox([self.add_module, self.rename_module, self.remove_module,
                              self.undo, self.new]),
                widgets.HBox([self.parent, self.weight, self.connect, self.disconnect]),
                rule,
                self.status,
                widgets.HBox([label("<b>export the shown graph:</b>"), self.download_json,
                              self.download_graphml],
                             layout=widgets.Layout(align_items="center")),
                widgets.HBox([label("<b>import:</b>"), self.upload,
                              label("<span style='color:#555'>node-link .json or .graphml "
                                    "(sketch_explorer.io)</span>")]),
            ]
        )
        self.widget.add_class("se-editor")
        self._wire()

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        ex = self._explorer
        actions = {
            self.add_object: ("adding an object", lambda: ex.edit(
                "add_object", self.name.value, self.module.value, self.attributes.value)),
            self.set_attributes: ("setting attributes", lambda: ex.edit(
                "set_attributes", self._chosen(self.object), self.attributes.value)),
            self.rename: ("renaming", lambda: ex.edit(
                "rename", self._chosen(self.object), self.name.value)),
            self.remove_object: ("removing an object", lambda: ex.edit(
                "remove_object", self._chosen(self.object))),
            self.connect: ("connecting", lambda: ex.edit(
                "connect", self._chosen(self.object), self._chosen(self.parent),
                self.weight.value)),
            self.disconnect: ("disconnecting", lambda: ex.edit(
                "disconnect", self._chosen(self.object), self._chosen(self.parent))),
            self.add_module: ("adding a module", lambda: ex.edit(
                "add_module", self.module.value)),
            self.rename_module: ("renaming a module", lambda: ex.edit(
                "rename_module", self.module.value, self.name.value)),
            self.remove_module: ("removing a module", lambda: ex.edit(
                "remove_module", self.module.value)),
            self.undo: ("undoing", ex.undo_edit),
            self.new: ("starting a new graph", ex.new_graph),
        }
        for button, (what, act) in actions.items():
            button.on_click(lambda _b, what=what, act=act: self._run(what, act))
        self.object.observe(self._on_object, names="value")
        self.upload.observe(self._on_upload, names="value")

    def _run(self, what: str, act) -> None:
        with self._explorer._reporting(what):
            act()

    @staticmethod
    def _chosen(dropdown: widgets.Dropdown) -> Hashable:
        if dropdown.value is None:
            raise ValueError(f"pick a node in '{dropdown.description}' first")
        return dropdown.value

    def _on_object(self, change) -> None:
        if self._quiet or change["new"] is None:
            return
        with self._explorer._reporting("showing the chosen node"):
            self.refresh_status()

    def _on_upload(self, change) -> None:
        if self._quiet or not change["new"]:
            return
        item = change["new"][-1]
        name = item.get("name", "uploaded file")
        if not len(item.get("content", b"")):  # the record of a file already loaded
            return
        loaded = None
        try:
            with self._explorer._reporting(f"loading {name}"):
                self._explorer.load_file(name, bytes(item["content"]))
                loaded = item
        finally:
            with self.quietly():  # the button names the file; the same file can come again
                show_loaded_file(self.upload, loaded, "import file")
            with self._explorer._quietly():
                show_loaded_file(self._explorer.upload, None, "graph file")

    @contextmanager
    def quietly(self):
        """Set the editor's widget values without their callbacks acting on them."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    # ------------------------------------------------------------------ views
    def refresh(self) -> None:
        """Follow the draft: node and module choices, then the status."""
        draft = self._explorer.controller.draft
        objects = [(str(n), n) for n in draft.objects]
        parents = [(f"{draft.output} (output)", draft.output), *objects]
        self._quiet += 1
        try:
            keep_object, keep_parent = self.object.value, self.parent.value
            self.object.options = objects
            self.parent.options = parents
            values = {v for _l, v in objects}
            selected = self._explorer.controller.selected
            if keep_object in values:
                self.object.value = keep_object
            elif selected in values:
                self.object.value = selected
            elif objects:
                self.object.value = objects[-1][1]
            self.parent.value = keep_parent if keep_parent in {v for _l, v in parents} \
                else parents[0][1]
            self.module.options = list(draft.modules)
        finally:
            self._quiet -= 1
        self.refresh_status()

    def follow_selection(self, name: Hashable) -> None:
        """Choose ``name`` in the object dropdown (a click on its node does this)."""
        if name in {v for _l, v in self.object.options} and self.object.value != name:
            self._quiet += 1
            try:
                self.object.value = name
            finally:
                self._quiet -= 1
            self.refresh_status()

    def refresh_status(self) -> None:
        """The status panel: the draft's state, the last edit, the chosen node's inputs."""
        chosen = self.object.value
        self.status.value = compare_figures.editor_status_html(
            self._explorer.controller.draft, chosen
        )

    def refresh_downloads(self) -> None:
        """Offer the shown graph as JSON and GraphML (called when the shown graph changes)."""
        graph = self._explorer.controller.graph
        stem = "graph"
        for link, fmt, ext in ((self.download_json, "json", "json"),
                               (self.download_graphml, "graphml", "graphml")):
            try:
                payload = dumps_graph(graph, fmt)
            except (TypeError, ValueError) as exc:
                link.clear(f"cannot write {fmt}: {exc}")
                continue
            link.offer(payload, filename=f"{stem}.{ext}",
                       note=f"{_size(len(payload))}, {len(graph)} objects")
