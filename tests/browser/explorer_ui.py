"""The explorer as a person sees it in a browser page, for the browser tests.

Selectors stay with what plotly, ipywidgets and the explorer's visible text guarantee:

* figures are plotly's ``.js-plotly-plot`` divs; their state is read from the div's own
  ``data`` and ``layout`` (what plotly draws from), never from SVG text. Which figure is which
  comes from the explorer's CSS classes (``se-graph``, ``se-detail``, ``se-error-plot``) where
  they are, else from that state: the detail figure is all bars, the error figure has log axes
  and clickable markers, the graph has clickable markers on linear axes. Only visible figures
  count (a hidden tab's figures have no layout box);
* markers are plotly's ``path.point``. They are clicked with the mouse at the centre of their
  bounding box: ``locator.click()`` is intercepted by plotly's drag layer, and a synthetic
  ``click`` event does not reach plotly's handlers. Which point plotly took is read from its
  public ``plotly_click`` event;
* the erasure slider is the ipywidgets slider labelled "kept prefix", driven through its
  noUiSlider handle like a person would drag it.
"""

from __future__ import annotations

import html
import json
import os
import re
import statistics
import warnings

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # without playwright, conftest's browser fixture skips every user of this
    PlaywrightTimeout = TimeoutError

#: Tags the visible figures by role (``data-test-role``); returns the roles found. A figure
#: inside an element with the explorer's CSS class for that role (``se-graph``, ``se-detail``,
#: ``se-error-plot``) is taken first; otherwise the role follows from the figure's own state.
_TAG_FIGURES = """() => {
  const classes = {graph: 'se-graph', detail: 'se-detail', error: 'se-error-plot'};
  const visible = el => el.data && el.layout && el.getClientRects().length > 0;
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  plots.forEach(el => el.removeAttribute('data-test-role'));
  const guess = el => {
    const clickable = el.data.some(t => t.customdata && /markers/.test(t.mode || ''));
    const logX = el.layout.xaxis && el.layout.xaxis.type === 'log';
    if (el.data.length && el.data.every(t => t.type === 'bar')) return 'detail';
    if (clickable && logX) return 'error';
    if (clickable) return 'graph';
    return null;
  };
  const roles = [];
  for (const [role, cls] of Object.entries(classes)) {
    const el = plots.find(p => visible(p) && p.closest('.' + cls))
      || plots.find(p => visible(p) && !p.hasAttribute('data-test-role') && guess(p) === role);
    if (el) {
      el.setAttribute('data-test-role', role);
      roles.push(role);
    }
  }
  return roles;
}"""

#: JSON of a tagged figure's state: title and, per trace, what the tests compare.
_FIGURE_STATE = """(el) => JSON.stringify({
  title: (el.layout.title && el.layout.title.text) || '',
  traces: el.data.map(t => ({
    name: t.name, type: t.type, mode: t.mode || null,
    x: t.x || null, y: t.y || null,
    customdata: t.customdata || null,
  })),
  bars: el.querySelectorAll('.barlayer path').length,
})"""

#: Candidate markers of the graph: filled (not the transparent edge handles, not the open
#: selection ring), with their centres in viewport coordinates, largest first.
_GRAPH_MARKERS = """(el) => {
  const out = [];
  for (const p of el.querySelectorAll('.scatterlayer path.point')) {
    const style = getComputedStyle(p);
    if (parseFloat(style.fillOpacity) === 0 || style.fill === 'none') continue;
    const r = p.getBoundingClientRect();
    if (r.width < 4 || r.height < 4) continue;
    out.push({x: r.left + r.width / 2, y: r.top + r.height / 2, area: r.width * r.height});
  }
  out.sort((a, b) => b.area - a.area);
  return out;
}"""

#: Records plotly's own click events on a figure in ``el.__testClicks``.
_HOOK_CLICKS = """(el) => {
  if (!el.__testClicks) {
    el.__testClicks = [];
    el.on('plotly_click', d => el.__testClicks.push(d.points.map(p => ({
      curve: p.curveNumber, point: p.pointNumber,
      customdata: p.customdata === undefined ? null : p.customdata,
      hovertext: p.hovertext === undefined ? null : p.hovertext,
      text: p.text === undefined ? null : p.text,
    }))));
  }
  return el.__testClicks.length;
}"""


#: What anywidget (>= 0.9.16 or so) throws when a model has not initialised within its fixed
#: two seconds; the widget then no longer follows the kernel (seen in Voila under CPU load).
ANYWIDGET_GAVE_UP = "[anywidget] Failed to initialize model"


class WidgetInitFailed(AssertionError):
    """anywidget gave up initialising widget models: the page cannot be tested as it is."""


class ExplorerUI:
    """The explorer in one page (JupyterLab or Voila). Create it before loading the page, so
    it sees the page's errors from the start."""

    def __init__(self, page):
        self.page = page
        self.page_errors: list[str] = []
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def widget_init_failures(self) -> int:
        return sum(ANYWIDGET_GAVE_UP in e for e in self.page_errors)

    def check_widgets_initialised(self, cause: BaseException | None = None) -> None:
        """Raise :class:`WidgetInitFailed` if anywidget gave up on a model in this page."""
        failures = self.widget_init_failures()
        if failures:
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            raise WidgetInitFailed(
                f"anywidget gave up initialising {failures} widget model(s) within its fixed "
                f"2 s (load average {load}); those figures stop following the kernel"
            ) from cause

    # ---------------------------------------------------------------- figures
    def wait_for_figures(self, timeout_ms: float = 180_000) -> None:
        """Wait until the graph, detail and error figures are drawn and tagged."""
        self.page.wait_for_selector(
            ".js-plotly-plot .scatterlayer path.point", state="attached", timeout=timeout_ms
        )
        self.page.wait_for_function(
            f"() => {{ const r = ({_TAG_FIGURES})(); "
            "return ['graph', 'detail', 'error'].every(x => r.includes(x)); }",
            timeout=timeout_ms,
        )

    def figure(self, role: str):
        return self.page.locator(f".js-plotly-plot[data-test-role='{role}']")

    def state(self, role: str) -> dict:
        """Title, traces and drawn bar count of the figure with ``role``."""
        self.page.evaluate(_TAG_FIGURES)
        return json.loads(self.figure(role).evaluate(_FIGURE_STATE))

    def wait_for_new_errors(self, before: dict, timeout_ms: float = 60_000) -> dict:
        """Wait until the error figure's measured errors differ from ``before``'s; return the
        new state. (Other changes, such as a highlight of the selected object, do not count.)
        """
        self.page.wait_for_function(
            f"""(old) => {{
                ({_TAG_FIGURES})();
                const el = document.querySelector(".js-plotly-plot[data-test-role='error']");
                if (!el) return false;
                const now = el.data.filter(t => t.customdata && /markers/.test(t.mode || ''))
                    .map(t => Array.from(t.y || []));
                return now.length !== old.length || now.some((ys, i) =>
                    ys.length !== old[i].length || ys.some((y, j) => y !== old[i][j]));
            }}""",
            arg=_measured_traces(before),
            timeout=timeout_ms,
        )
        return self.state("error")

    # ---------------------------------------------------------------- clicks
    def click_graph_node(self, skip=lambda name: False, tries: int = 12) -> str:
        """Click graph markers, largest first, until plotly reports an object for which
        ``skip(name)`` is false; return that object's name.

        The name is the escaped object name as the explorer writes it (bold, first in the
        hover text; the marker's label when there is no hover text).
        """
        graph = self.figure("graph")
        graph.scroll_into_view_if_needed()
        graph.evaluate(_HOOK_CLICKS)
        markers = graph.evaluate(_GRAPH_MARKERS)
        viewport = self.page.viewport_size
        clicked = []
        for marker in markers[:tries]:
            if not (0 < marker["x"] < viewport["width"] and 0 < marker["y"] < viewport["height"]):
                continue
            seen = graph.evaluate("el => el.__testClicks.length")
            self.page.mouse.click(marker["x"], marker["y"])
            try:
                self.page.wait_for_function(
                    "([el, n]) => el.__testClicks.length > n",
                    arg=[graph.element_handle(), seen],
                    timeout=3_000,
                )
            except PlaywrightTimeout:  # plotly took no point here (e.g. between markers)
                continue
            points = graph.evaluate("el => el.__testClicks[el.__testClicks.length - 1]")
            for point in points:
                if point["customdata"] is None:
                    continue  # the output node: not an object
                name = object_name(point)
                clicked.append(name)
                if not skip(name):
                    self.page.mouse.move(5, 5)  # away, so the hover label does not cover it
                    return name
        raise AssertionError(f"no graph marker selected a new object; clicked {clicked}")

    # ---------------------------------------------------------------- panels
    def wait_for_detail_of(self, name: str, timeout_ms: float = 30_000) -> dict:
        """Wait until the detail figure is about ``name``; return its state."""
        try:
            self._wait_for_detail_title(name, timeout_ms)
        except PlaywrightTimeout as exc:
            raise AssertionError(
                f"plotly reported a click on {name}, but after {timeout_ms / 1000:.0f} s the "
                f"detail figure still shows {self.state('detail')['title']!r}; "
                f"error boxes: {self.error_messages()}"
            ) from exc
        return self.state("detail")

    def _wait_for_detail_title(self, name: str, timeout_ms: float) -> None:
        self.page.wait_for_function(
            f"""(name) => {{
                ({_TAG_FIGURES})();
                const el = document.querySelector(".js-plotly-plot[data-test-role='detail']");
                return !!el && ((el.layout.title && el.layout.title.text) || '').includes(name);
            }}""",
            arg=name,
            timeout=timeout_ms,
        )

    def detail_text_shows(self, name: str) -> bool:
        """Whether a visible HTML widget (the detail panel) names the object ``name``."""
        plain = html.unescape(name)
        panels = self.page.locator(".widget-html:visible")
        return any(plain in panels.nth(i).inner_text() for i in range(panels.count()))

    def error_messages(self) -> list[str]:
        """Texts of the explorer's visible error boxes (callback errors shown in the UI)."""
        boxes = self.page.locator(".widget-html:visible", has_text="Error while")
        return [boxes.nth(i).inner_text() for i in range(boxes.count())]

    # ---------------------------------------------------------------- erasure slider
    def erasure_slider(self):
        return self.page.locator(".widget-slider", has_text="kept prefix").first

    def erasure_value(self) -> int:
        return int(self.erasure_slider().locator(".widget-readout").inner_text().strip())

    def drag_erasure_to(self, fraction: float) -> int:
        """Drag the erasure handle to ``fraction`` of its track; return the new readout."""
        slider = self.erasure_slider()
        slider.scroll_into_view_if_needed()
        before = self.erasure_value()
        handle = slider.locator(".noUi-handle").bounding_box()
        track = slider.locator(".noUi-target").bounding_box()
        y = handle["y"] + handle["height"] / 2
        self.page.mouse.move(handle["x"] + handle["width"] / 2, y)
        self.page.mouse.down()
        self.page.mouse.move(track["x"] + fraction * track["width"], y, steps=8)
        self.page.mouse.up()
        self.page.wait_for_function(
            """([el, before]) => {
                const t = el.querySelector('.widget-readout').textContent.trim();
                return t !== '' && Number(t) !== before;
            }""",
            arg=[slider.element_handle(), before],
        )
        return self.erasure_value()


def with_one_retry(attempt):
    """Run ``attempt()``, and once more if anywidget gave up on widget models in it.

    Only that cause is retried (a CPU-load race outside the explorer, see
    :data:`ANYWIDGET_GAVE_UP`), and the retry is reported as a warning; every other failure
    fails at once.
    """
    try:
        return attempt()
    except WidgetInitFailed as exc:
        warnings.warn(f"browser test retried once: {exc}", stacklevel=2)
        return attempt()


def object_name(point: dict) -> str:
    """The object a plotly click event point stands for, as the explorer wrote it."""
    match = re.search(r"<b>(.*?)</b>", point.get("hovertext") or "")
    if match:
        return match.group(1)
    return point.get("text") or ""


def _measured_traces(state: dict) -> list[list]:
    return [
        list(t["y"])
        for t in state["traces"]
        if t["customdata"] is not None and "markers" in (t["mode"] or "")
    ]


def measured_errors(state: dict) -> list[float]:
    """The error figure's measured errors: y of every marker trace that carries objects."""
    return [float(v) for ys in _measured_traces(state) for v in ys]


def bar_traces(state: dict) -> list[dict]:
    return [t for t in state["traces"] if t["type"] == "bar"]


def exercise_explorer(ui: ExplorerUI, shoot) -> dict:
    """What a person does with the explorer, and what each step must show.

    1. every figure is drawn; 2. a click on a graph node (one that is not selected yet) makes
    the detail figure and the detail text show that object, with its bar chart of true
    against recovered attributes; 3. dragging the erasure slider to a quarter of its track
    changes the error plot: its title names the new prefix and the measured errors grow
    (noise grows like sqrt(d / d'), so a quarter of the coordinates doubles it); 4. no error
    box appeared. ``shoot(label)`` takes a screenshot after each step. Returns what was seen.
    """
    ui.wait_for_figures()
    ui.page.wait_for_timeout(2_500)  # anywidget gives up on a model 2 s after creating it
    ui.check_widgets_initialised()
    shoot("1-rendered")
    try:
        seen = _click_and_erase(ui, shoot)
    except Exception as exc:
        ui.check_widgets_initialised(cause=exc)  # name the cause when it is this one
        raise
    assert not ui.error_messages(), ui.error_messages()
    return seen


def _click_and_erase(ui: ExplorerUI, shoot) -> dict:
    """Steps 2 and 3 of :func:`exercise_explorer`."""
    # click a node: the detail panel follows
    detail_before = ui.state("detail")
    name = ui.click_graph_node(skip=lambda n: n in detail_before["title"])
    detail = ui.wait_for_detail_of(name)
    bars = bar_traces(detail)
    assert len(bars) >= 2, f"detail of {name}: expected true and recovered bars, got {bars}"
    lengths = {len(t["y"]) for t in bars}
    assert len(lengths) == 1 and lengths != {0}, f"bar traces of unequal length: {lengths}"
    assert detail["bars"] > 0, "the detail bar chart has no drawn bars"
    assert [t["y"] for t in bars] != [t["y"] for t in bar_traces(detail_before)]
    assert ui.detail_text_shows(name), f"no visible text panel names {name}"
    shoot("2-clicked-node")

    # erase: the error plot follows
    error_before = ui.state("error")
    old_prefix = ui.erasure_value()
    new_prefix = ui.drag_erasure_to(0.25)
    assert new_prefix < old_prefix
    error_after = ui.wait_for_new_errors(error_before)
    assert str(new_prefix) in error_after["title"], error_after["title"]
    before, after = measured_errors(error_before), measured_errors(error_after)
    assert before and len(after) == len(before)
    assert statistics.median(after) > statistics.median(before), (before, after)
    shoot("3-erased")
    return {
        "clicked": html.unescape(name),
        "prefix": (old_prefix, new_prefix),
        "median_error": (statistics.median(before), statistics.median(after)),
    }
