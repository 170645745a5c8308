"""Fixtures of the browser tests: JupyterLab and Voila on 127.0.0.1, driven in Debian's Chromium.

Prerequisites, checked here and nowhere else:

* ``/usr/bin/chromium``, Debian's ``chromium`` package. Playwright's own browser download is
  never used (it cannot work on these machines, and the tests must not fetch anything);
* the Python package ``playwright`` (in the ``test`` extras);
* ``voila`` for the Voila test.

A missing prerequisite skips the tests that need it, with the reason, unless the environment
variable ``SKETCH_EXPLORER_REQUIRE_BROWSER=1`` is set (CI sets it): then it is an error.

Isolation:

* every server gets a free loopback port, a fixed token, and ``HOME`` plus Jupyter's config,
  data and runtime directories inside a temporary directory, so nothing of the user's Jupyter
  set-up is read or written. Lab extensions are still found in the environment's own
  ``share/jupyter`` (``sys.prefix``), which is where pip installs them;
* JupyterLab's news feed, update check and PyPI extension manager are off (server flags and
  the ``fetchNews: "false"`` user setting), so it makes no request of its own;
* JupyterLab serves a copy of ``notebooks/``: running a notebook there never touches the work
  tree (Voila only reads the notebook and serves it from the repository);
* every request of the browser to a host other than 127.0.0.1 is aborted and recorded in
  :class:`Browser.external`; each test asserts that there was none;
* servers are stopped by their process id at teardown (JupyterLab's kernels first, through its
  API). Each server has a runtime directory of its own; kernel processes still alive
  afterwards are found by it in their command line, ended, and fail the teardown.

The servers and the browser live as long as this package's tests (fixture scope "package"),
so they are gone before the rest of the suite runs.

Screenshots and server logs go to ``artifacts/browser/`` at the top of the repository (kept by
CI as test artifacts, ignored by git); a failing browser test also leaves a screenshot there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_ENV = "SKETCH_EXPLORER_REQUIRE_BROWSER"
LOOPBACK = "127.0.0.1"
TOKEN = "sketch-explorer-browser-tests"
EXPLORER_NOTEBOOK = "01_explorer.ipynb"

#: Flags seen to work for headless Debian Chromium on these machines (shared/BROWSER-TESTING.md);
#: the background-networking ones keep Chromium from calling home.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_SECONDS = 90.0
SERVER_STOP_SECONDS = 30.0
KERNEL_EXIT_SECONDS = 15.0
RUNTIME_PLACEHOLDER = "{runtime_dir}"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab or Voila in Debian's Chromium (still run in CI)"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def missing_prerequisite(reason: str) -> None:
    """Skip with ``reason``, or fail when the environment requires the browser tests."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires the browser tests", pytrace=False)
    pytest.skip(f"{reason} (set {REQUIRE_ENV}=1 to make this an error)")


# ------------------------------------------------------------------------------ environment
@pytest.fixture(scope="package")
def browser_prerequisites():
    """Check for Chromium and Playwright before any server starts; returns sync_playwright."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing_prerequisite(
            f"{CHROMIUM} not found: install Debian's chromium package "
            "(apt-get install -y chromium); Playwright's browser download is not used"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_prerequisite("the Python package playwright is not installed")
    return sync_playwright


@pytest.fixture(scope="package")
def artifacts_dir() -> Path:
    """``artifacts/browser/``, emptied of the screenshots and logs of an earlier run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in (*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log")):
        old.unlink()
    return ARTIFACTS


def isolated_jupyter_env(root: Path) -> dict[str, str]:
    """Environment for Jupyter processes whose user-level state all lives under ``root``.

    Writes the JupyterLab user settings that turn off the news feed, the update check and
    autosave. The environment's own ``share/jupyter`` (lab extensions, kernel specs) is not
    affected: Jupyter finds it through ``sys.prefix`` of the interpreter that runs it.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
    dirs = {
        "HOME": root / "home",
        "JUPYTER_CONFIG_DIR": root / "config",
        "JUPYTER_DATA_DIR": root / "data",
        "JUPYTER_RUNTIME_DIR": root / "runtime",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["PYTHONUNBUFFERED"] = "1"

    settings = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings" / "@jupyterlab"
    user_settings = {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "docmanager-extension/plugin": {"autosave": False},
    }
    for plugin, values in user_settings.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    return env


@pytest.fixture(scope="package")
def jupyter_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("jupyter")


@pytest.fixture(scope="package")
def jupyter_env(jupyter_root) -> dict[str, str]:
    return isolated_jupyter_env(jupyter_root)


@pytest.fixture(scope="package")
def served_notebooks(tmp_path_factory) -> Path:
    """A copy of ``notebooks/`` for the servers, so the work tree stays as it is."""
    target = tmp_path_factory.mktemp("served") / "notebooks"
    skip = shutil.ignore_patterns(".ipynb_checkpoints")
    shutil.copytree(REPO / "notebooks", target, ignore=skip)
    return target


# ------------------------------------------------------------------------------ servers
def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A server process started by a fixture, on 127.0.0.1."""

    name: str
    process: subprocess.Popen
    port: int
    log_path: Path
    runtime_dir: Path
    token: str = TOKEN

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def url(self, path: str = "/", **query: str) -> str:
        """URL of ``path`` with the token (and ``query``) appended."""
        params = urlencode({"token": self.token, **query})
        return f"{self.base_url}{path}?{params}"

    def api(self, path: str, method: str = "GET"):
        """Call the Jupyter REST API; returns the decoded JSON body (None when empty)."""
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_sessions(self) -> None:
        """Delete every session of a Jupyter server, and so its kernel."""
        for session in self.api("/api/sessions"):
            self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def start_server(
    name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int, log_path: Path
) -> Server:
    """Start ``argv`` in its own process group, logging to ``log_path``; wait for its port.

    The server gets a runtime directory of its own (``<JUPYTER_RUNTIME_DIR>-<port>``), so its
    kernels, whose connection files live there, can be told from other servers' kernels.
    """
    runtime_dir = Path(f"{env['JUPYTER_RUNTIME_DIR']}-{port}")
    runtime_dir.mkdir(parents=True, exist_ok=True)
    env = {**env, "JUPYTER_RUNTIME_DIR": str(runtime_dir)}
    argv = [a.replace(RUNTIME_PLACEHOLDER, str(runtime_dir)) for a in argv]
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()  # the child holds its own descriptor
    server = Server(name, process, port, log_path, runtime_dir)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with code {process.returncode} while starting:\n"
                f"{server.log_tail()}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return server
        except OSError:
            time.sleep(0.25)
    stop_server(server)
    raise RuntimeError(f"{name} did not listen on port {port} within {SERVER_START_SECONDS:.0f} s")


def _kernel_pids(runtime_dir: Path) -> list[int]:
    """Processes whose command line names a file in ``runtime_dir``: our kernels."""
    marker = f"{runtime_dir}{os.sep}"
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(proc.name))
    return pids


def stop_server(server: Server) -> list[int]:
    """Stop ``server`` by its PID (SIGTERM, then SIGKILL to its process group).

    Returns the PIDs of kernel processes that outlived the server and had to be ended here.
    """
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group is the server's own session
            process.wait(timeout=10)
    deadline = time.monotonic() + KERNEL_EXIT_SECONDS  # kernels asked to stop may lag a bit
    while _kernel_pids(server.runtime_dir) and time.monotonic() < deadline:
        time.sleep(0.25)
    leftovers = _kernel_pids(server.runtime_dir)
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return leftovers


def wait_for_api(server: Server, seconds: float = SERVER_START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            server.api("/api/status")
            return
        except OSError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise RuntimeError(f"{server.name} API did not answer:\n{server.log_tail()}")
            time.sleep(0.25)


@pytest.fixture(scope="package")
def lab_server(browser_prerequisites, jupyter_env, served_notebooks, artifacts_dir):
    """JupyterLab serving the copy of ``notebooks/`` on 127.0.0.1 with a fixed token."""
    port = free_loopback_port()
    config = Path(jupyter_env["JUPYTER_CONFIG_DIR"]) / "lab"
    argv = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--allow-root",
        f"--ServerApp.ip={LOOPBACK}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={served_notebooks}",
        f"--IdentityProvider.token={TOKEN}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={config / 'user-settings'}",
        f"--LabApp.workspaces_dir={config / 'workspaces'}",
    ]  # fmt: skip
    server = start_server(
        "JupyterLab", argv, jupyter_env, served_notebooks, port,
        artifacts_dir / "jupyterlab-server.log",
    )  # fmt: skip
    try:
        wait_for_api(server)
        yield server
    finally:
        try:
            server.shut_down_sessions()
        except OSError:
            pass
        leftovers = stop_server(server)
        assert not leftovers, f"kernels outlived JupyterLab and were killed: {leftovers}"


@pytest.fixture(scope="package")
def voila_server(browser_prerequisites, jupyter_env, artifacts_dir):
    """Voila serving the explorer notebook at ``/`` on 127.0.0.1, started from the repository
    root as a person would start it (so a ``voila.json`` there applies too). Voila only reads
    the notebook; its kernel runs in ``notebooks/`` as nbval's does."""
    try:
        import voila  # noqa: F401
    except ImportError:
        missing_prerequisite("voila is not installed in this environment")
    port = free_loopback_port()
    argv = [
        sys.executable, "-m", "voila", f"notebooks/{EXPLORER_NOTEBOOK}",
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={LOOPBACK}",
        "--Voila.port_retries=0",
        f"--Voila.token={TOKEN}",
        f"--Voila.connection_dir_root={RUNTIME_PLACEHOLDER}",
        "--show_tracebacks=True",
    ]  # fmt: skip
    server = start_server(
        "Voila", argv, jupyter_env, REPO, port, artifacts_dir / "voila-server.log"
    )
    try:
        yield server
    finally:
        leftovers = stop_server(server)
        assert not leftovers, f"kernels outlived Voila and were killed: {leftovers}"


# ------------------------------------------------------------------------------ browser
@dataclass
class Browser:
    """The Chromium context, and every request it tried to send off the machine."""

    context: object
    version: str = ""
    external: list[str] = field(default_factory=list)


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname == LOOPBACK


def _check_driven_browser(context) -> str:
    """The version of the Chromium that Playwright drives; it must be /usr/bin/chromium's."""
    out = subprocess.run(
        [str(CHROMIUM), "--version"], check=False, capture_output=True, text=True, timeout=60
    ).stdout
    match = re.search(r"Chromium (\d+(?:\.\d+)+)", out)
    assert match, f"cannot read the version of {CHROMIUM}: {out!r}"
    first = context.pages[0] if context.pages else context.new_page()
    product = context.new_cdp_session(first).send("Browser.getVersion")["product"]
    assert product.endswith(f"Chrome/{match.group(1)}"), (
        f"Playwright drives another browser than {CHROMIUM} ({match.group(1)}): {product}"
    )
    return match.group(1)


@pytest.fixture(scope="package")
def browser(browser_prerequisites, tmp_path_factory):
    """Debian's Chromium under Playwright; requests not to 127.0.0.1 are aborted and kept."""
    sync_playwright = browser_prerequisites
    profile = tmp_path_factory.mktemp("chromium-profile")
    result = Browser(context=None)

    def guard(route):
        url = route.request.url
        if _is_loopback(url):
            route.continue_()
        else:
            result.external.append(url)
            route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport=VIEWPORT,
        )
        context.route("**/*", guard)
        result.context = context
        result.version = _check_driven_browser(context)
        try:
            yield result
        finally:
            context.close()


@pytest.fixture
def external_requests(browser) -> list[str]:
    """Requests (and web sockets) off the machine that the browser attempted in this test."""
    browser.external.clear()
    return browser.external


@pytest.fixture
def page(browser, request, artifacts_dir):
    """A fresh tab. Its console and page errors go to ``artifacts/browser/<test>.console.log``;
    a failing test leaves ``FAILED-<test>.png``. Web sockets off the machine are recorded too."""
    tab = browser.context.new_page()
    tab.set_default_timeout(30_000)
    messages: list[str] = []
    tab.on("console", lambda m: messages.append(f"console.{m.type}: {m.text}"))
    tab.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))

    def on_websocket(ws):
        if not _is_loopback(ws.url.replace("ws://", "http://").replace("wss://", "https://")):
            browser.external.append(ws.url)

    tab.on("websocket", on_websocket)
    yield tab
    name = request.node.name.replace("/", "_")
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        from playwright.sync_api import Error as PlaywrightError

        try:
            tab.screenshot(path=str(artifacts_dir / f"FAILED-{name}.png"), full_page=True)
            messages.append(
                "figure titles at the failure: "
                + json.dumps(
                    tab.evaluate(
                        "() => [...document.querySelectorAll('.js-plotly-plot')]"
                        ".map(el => el.layout && el.layout.title && el.layout.title.text)"
                    ),
                    ensure_ascii=False,
                )
            )
        except PlaywrightError as exc:  # diagnostics must not hide the test's own failure
            messages.append(f"(could not record the failure: {exc})")
    (artifacts_dir / f"{name}.console.log").write_text("\n".join(messages), encoding="utf-8")
    tab.close()


@pytest.fixture
def shoot(page, request, artifacts_dir):
    """``shoot(label)`` saves ``artifacts/browser/<test>-<label>.png``; returns its path."""
    taken: list[Path] = []

    def take(label: str) -> Path:
        path = artifacts_dir / f"{request.node.name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    take.taken = taken
    return take


@pytest.fixture(scope="package")
def explorer_notebook() -> str:
    """File name of the explorer notebook, in ``notebooks/``."""
    return EXPLORER_NOTEBOOK
