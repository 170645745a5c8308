"""A download link widget: bytes made in Python, saved by the browser as a file.

ipywidgets has no download widget. The usual stand-in, an HTML widget holding a ``data:`` URI
link, breaks for large files: Chromium refuses URLs longer than 2 MB, and an exported page with
plotly.js inlined is about 5 MB (7 MB once base64-encoded). :class:`Download` is an anywidget
(the same machinery as plotly's FigureWidget, so it works wherever the explorer's figures work,
JupyterLab and Voila alike): the bytes travel as a binary buffer, the browser wraps them in a
``Blob`` and the widget shows an ordinary ``<a download>`` link to its object URL. File name
and link text are set as text (``textContent``, ``download``), never parsed as HTML.

What is not checked: that the browser allows downloads (a page under a restrictive sandbox may
not). Headless tests read :attr:`Download.content` instead of clicking.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["Download"]

_ESM = r"""
function render({ model, el }) {
  const link = document.createElement("a");
  link.className = "se-download-link";
  const note = document.createElement("span");
  note.className = "se-download-note";
  note.style.color = "#555";
  let url = null;
  function refresh() {
    if (url) { URL.revokeObjectURL(url); url = null; }
    const data = model.get("content");
    const size = data ? data.byteLength : 0;
    if (size === 0) {
      link.removeAttribute("href");
      link.removeAttribute("download");
      link.textContent = "";
      note.textContent = model.get("empty_text");
      return;
    }
    const blob = new Blob([data], { type: model.get("mime") });
    url = URL.createObjectURL(blob);
    link.href = url;
    link.download = model.get("filename");
    link.textContent = model.get("label");
    note.textContent = model.get("note");
  }
  for (const name of ["content", "filename", "mime", "label", "note", "empty_text"]) {
    model.on("change:" + name, refresh);
  }
  refresh();
  // a gap to the button or link before it, between link and note, and to what follows
  el.style.display = "inline-flex";
  el.style.alignItems = "center";
  el.style.gap = "8px";
  el.style.margin = "0 16px 0 12px";
  el.appendChild(link);
  el.appendChild(note);
  return () => { if (url) URL.revokeObjectURL(url); };
}
export default { render };
"""


class Download(anywidget.AnyWidget):
    """A link that saves :attr:`content` as a file named :attr:`filename`.

    Parameters
    ----------
    filename : str, default="download"
    mime : str, default="application/octet-stream"
    label : str, default="download"
        Link text (plain text).
    empty_text : str, default="nothing to download yet"
        Shown instead of the link while :attr:`content` is empty.

    Attributes
    ----------
    content : bytes
        The file's bytes; set with :meth:`offer`, empty with :meth:`clear`.
    note : str
        Plain text beside the link (size and what the file holds).

    Examples
    --------
    >>> link = Download(filename="graph.json", mime="application/json")
    >>> link.offer(b"{}", note="2 bytes")
    >>> link.content, link.filename
    (b'{}', 'graph.json')
    """

    _esm = _ESM
    content = traitlets.Bytes(b"").tag(sync=True)
    filename = traitlets.Unicode("download").tag(sync=True)
    mime = traitlets.Unicode("application/octet-stream").tag(sync=True)
    label = traitlets.Unicode("download").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("nothing to download yet").tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if not self.layout.margin:  # apart from the button or link before it
            self.layout.margin = "0 16px 0 12px"

    def offer(
        self,
        content: bytes,
        *,
        filename: str | None = None,
        label: str | None = None,
        note: str = "",
    ) -> None:
        """Offer ``content`` for download (one sync message for all fields)."""
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TypeError(f"content must be bytes; got {type(content).__name__}")
        with self.hold_sync():
            if filename is not None:
                self.filename = str(filename)
            if label is not None:
                self.label = str(label)
            self.note = str(note)
            self.content = bytes(content)

    def clear(self, empty_text: str | None = None) -> None:
        """Withdraw the file; ``empty_text`` says why."""
        with self.hold_sync():
            if empty_text is not None:
                self.empty_text = str(empty_text)
            self.note = ""
            self.content = b""


def show_loaded_file(upload, item: dict | None, default: str) -> None:
    """After an upload was handled: make ``upload``'s button say what is loaded.

    A FileUpload's button reads ``"<description> (<number of files held>)"``. After a
    successful load (``item`` the uploaded file) it keeps a record of that file without its
    bytes and names it, so the button reads ``"graph file: scene.json (1)"``; uploading the same
    file again still changes the value (the bytes differ from the empty record) and reloads it.
    After a failed load (``item`` None) the button goes back to ``default`` holding nothing.
    Call it with the upload's callbacks silenced.
    """
    if item is None:
        upload.value = ()
        upload.description = default
        upload.tooltip = ""
        return
    name = str(item.get("name", "uploaded file"))
    short = name if len(name) <= 28 else name[:12] + "…" + name[-12:]
    record = dict(item)
    record["content"] = memoryview(b"")
    upload.value = (record,)
    upload.description = f"{default}: {short}"
    upload.tooltip = f"{name} is loaded; click to load another file"
