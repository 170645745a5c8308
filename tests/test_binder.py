"""Binder: the configuration in binder/ installs a working explorer (issue 3, PITFALLS).

The test builds what repo2docker would build, in a fresh virtual environment:

1. ``pip install -r binder/requirements.txt`` from the repository root, as repo2docker runs it
   (the ``.`` line installs the package itself with its declared dependencies);
2. ``binder/postBuild``, if there is one, also from the repository root;
3. then it checks that environment: ``pip check`` is clean; JupyterLab 4, ipywidgets 8,
   plotly >= 6 and anywidget are what got installed; the lab extensions of ipywidgets, plotly
   and anywidget are enabled and compatible; the package came from the built wheel, not the
   work tree;
4. and runs every notebook in ``notebooks/`` (whatever is there when the test runs) under
   ``pytest --nbval-lax`` with that environment's Python.

It needs PyPI (pip downloads what its cache lacks) and takes a few minutes, most of it the
install; it runs in CI with the rest of the suite. What it does not do: run repo2docker or
Docker, or use repo2docker's base image (its Python comes from binder/runtime.txt there).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
INSTALL_SECONDS = 900
NOTEBOOK_SECONDS = 1200

#: Front-end extensions that must be enabled in the Binder environment.
LAB_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "jupyterlab-plotly", "anywidget")

pytestmark = pytest.mark.slow


def _run(argv, *, env, cwd=REPO, timeout=INSTALL_SECONDS) -> str:
    """Run ``argv``; fail the test with its output if it fails. Returns the output."""
    start = time.monotonic()
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, argv))} failed ({result.returncode}) after "
            f"{time.monotonic() - start:.0f} s:\n{output[-6000:]}",
            pytrace=False,
        )
    return output


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory):
    """A fresh venv holding what binder/ installs; returns (python, environment, timings)."""
    root = tmp_path_factory.mktemp("binder")
    venv = root / "venv"
    timings = {}

    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / "bin"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH")
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONNOUSERSITE="1",
    )
    python = bin_dir / "python"

    # what repo2docker does, in its order, from the repository root
    _run([python, "-m", "pip", "install", "--quiet", "-r", BINDER / "requirements.txt"], env=env)
    post_build = BINDER / "postBuild"
    if post_build.exists():
        _run(["bash", post_build], env=env)
    timings["install"] = time.monotonic() - start

    # the test runner, installed after the Binder environment so it cannot shape it
    _run([python, "-m", "pip", "install", "--quiet", "pytest>=7", "nbval>=0.11"], env=env)

    # Jupyter's user-level state in the temporary directory, as in the browser tests
    for name, sub in (
        ("HOME", "home"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (root / sub).mkdir()
        env[name] = str(root / sub)
    return python, env, timings


def _installed(python, env) -> dict[str, str]:
    out = _run([python, "-m", "pip", "list", "--format=json"], env=env)
    return {p["name"].lower(): p["version"] for p in json.loads(out[out.index("[") :])}


def _major(version: str) -> int:
    return int(re.match(r"\d+", version).group())


def test_binder_environment_is_consistent(binder_env):
    python, env, timings = binder_env
    print(f"Binder environment installed in {timings['install']:.0f} s")
    _run([python, "-m", "pip", "check"], env=env)

    versions = _installed(python, env)
    assert _major(versions["jupyterlab"]) == 4, versions["jupyterlab"]
    assert _major(versions["ipywidgets"]) == 8, versions["ipywidgets"]
    assert _major(versions["plotly"]) >= 6, versions["plotly"]
    assert "anywidget" in versions, "plotly >= 6 needs anywidget for FigureWidget"
    assert "voila" in versions
    assert "sketch-explorer" in versions or "sketch_explorer" in versions

    # the package is the installed wheel, not the work tree
    where = _run(
        [python, "-c", "import sketch_explorer, sys; sys.stdout.write(sketch_explorer.__file__)"],
        env=env,
        cwd=env["HOME"],
    )
    assert Path(python).parent.parent in Path(where.strip()).parents, where


def test_binder_lab_extensions_enabled_and_compatible(binder_env):
    python, env, _ = binder_env
    text = re.sub(
        r"\x1b\[[0-9;]*m", "", _run([python, "-m", "jupyter", "labextension", "list"], env=env)
    )
    for name in LAB_EXTENSIONS:
        line = next((s for s in text.splitlines() if s.strip().startswith(f"{name} ")), None)
        assert line is not None, f"{name} not found:\n{text}"
        assert re.search(r"\benabled\s+OK\b", line), line
    assert "incompatible" not in text.lower(), text
    assert not re.search(r"\b(enabled|disabled)\s+X\b", text), text


def test_every_notebook_runs_in_the_binder_environment(binder_env):
    python, env, _ = binder_env
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebook in notebooks/"
    start = time.monotonic()
    out = _run(
        [
            python, "-m", "pytest",
            "--nbval-lax",
            "--nbval-current-env",  # the Binder venv's kernel, whatever kernel specs exist
            "-p", "no:cacheprovider",
            "-q",
            *notebooks,
        ],
        env=env,
        timeout=NOTEBOOK_SECONDS,
    )  # fmt: skip
    print(f"{len(notebooks)} notebooks ran in {time.monotonic() - start:.0f} s")
    print(out[-2000:])
