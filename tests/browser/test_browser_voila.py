"""The explorer as a Voila app, in a real browser (issue 3).

Voila runs notebooks/01_explorer.ipynb (a copy) and shows its outputs without code; the same
click and slider as in JupyterLab must work (:func:`exercise_explorer`). Screenshots go to
artifacts/browser/. Needs Debian's Chromium, Playwright and voila; see conftest.py.
"""

import re

import pytest

from .explorer_ui import ExplorerUI, exercise_explorer, with_one_retry

pytestmark = pytest.mark.browser

#: Voila's own "lab" template links Font Awesome's stylesheets from a CDN (voila 0.5); its
#: bundle carries the same icons, so the aborted requests change nothing on the page. They
#: are counted and reported; any other request off the machine fails the test.
VOILA_TEMPLATE_CDN = re.compile(
    r"https://cdn\.jsdelivr\.net/npm/@fortawesome/fontawesome-free@[^/]+/css/[\w.-]+\.css$"
)

#: Voila executes the whole notebook before the widgets connect (about 40 s here).
RENDER_SECONDS = 240


def test_explorer_in_voila(voila_server, page, external_requests, shoot):
    def attempt():
        ui = ExplorerUI(page)
        page.goto(voila_server.url("/"), wait_until="commit", timeout=RENDER_SECONDS * 1000)
        ui.wait_for_figures(timeout_ms=RENDER_SECONDS * 1000)
        return exercise_explorer(ui, shoot)

    seen = with_one_retry(attempt)
    print(f"Voila: {seen}; screenshots: {[p.name for p in shoot.taken]}")
    template_cdn = [u for u in external_requests if VOILA_TEMPLATE_CDN.match(u)]
    unexpected = [u for u in external_requests if u not in template_cdn]
    print(f"Voila: {len(template_cdn)} font stylesheet request(s) of Voila's template aborted")
    assert not unexpected, f"requests off the machine were attempted: {unexpected}"
