"""The explorer notebook in JupyterLab, in a real browser (issue 3).

Opens notebooks/01_explorer.ipynb (a copy) in JupyterLab, runs all cells through the Run menu,
then clicks a graph node and drags the erasure slider (:func:`exercise_explorer`). Screenshots
go to artifacts/browser/. Needs Debian's Chromium and Playwright; see conftest.py.
"""

import pytest

from .explorer_ui import ExplorerUI, exercise_explorer, with_one_retry

pytestmark = pytest.mark.browser

#: Running every cell takes about 40 s here (digits network, then a sketch at d = 16384).
RUN_ALL_SECONDS = 240

#: Done when every code cell has an execution count; failed when a cell shows a traceback.
_RUN_ALL_STATE = """() => {
  const outputs = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')];
  if (outputs.some(o => /Traceback \\(most recent call last\\)/.test(o.textContent))) {
    return 'error';
  }
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
  return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)) && 'done';
}"""


def open_notebook(page, server, name):
    """Open ``name`` in a fresh JupyterLab workspace; wait for its kernel to be idle."""
    server.shut_down_sessions()  # a kernel that already ran the notebook confuses anywidget
    page.goto(server.url(f"/lab/tree/{name}", reset=""))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.locator("#jp-main-statusbar .jp-StatusBar-TextItem", has_text="Idle").wait_for(
        timeout=60_000
    )


def run_all(page):
    """Run all cells through the Run menu; fail with the traceback if a cell raises."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator("[data-command='runmenu:run-all']").click()
    state = page.wait_for_function(_RUN_ALL_STATE, timeout=RUN_ALL_SECONDS * 1000).json_value()
    if state == "error":
        tracebacks = page.locator(".jp-OutputArea-output", has_text="Traceback")
        pytest.fail(f"a cell raised:\n{tracebacks.first.inner_text()}")


def test_explorer_in_jupyterlab(lab_server, explorer_notebook, page, external_requests, shoot):
    def attempt():
        ui = ExplorerUI(page)
        open_notebook(page, lab_server, explorer_notebook)
        run_all(page)
        return exercise_explorer(ui, shoot)

    try:
        seen = with_one_retry(attempt)
    finally:
        lab_server.shut_down_sessions()  # its kernel is not needed by the tests that follow
    print(f"JupyterLab: {seen}; screenshots: {[p.name for p in shoot.taken]}")
    assert not external_requests, f"requests off the machine were attempted: {external_requests}"
