"""The lab extensions the explorer needs are found, enabled and compatible (PITFALLS).

Runs ``jupyter labextension list`` the way the browser tests' servers run: this environment's
interpreter, with HOME and Jupyter's user directories moved to a temporary directory. The
extensions installed by pip into ``sys.prefix/share/jupyter`` must still be found there. No
browser is needed.
"""

import re
import subprocess
import sys

#: Front-end extensions of ipywidgets, plotly's FigureWidget and anywidget (plotly >= 6 builds
#: FigureWidget on anywidget).
REQUIRED = ("@jupyter-widgets/jupyterlab-manager", "jupyterlab-plotly", "anywidget")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXTENSION_LINE = re.compile(r"^\s+(\S+)\s+v(\S+)\s+(enabled|disabled)\s+(OK|X)\b(.*)$")


def labextension_list(env) -> tuple[str, dict[str, tuple[str, str, str]]]:
    """Output of ``jupyter labextension list`` and, per extension, (version, state, check)."""
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = _ANSI.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, text
    found = {}
    for line in text.splitlines():
        match = _EXTENSION_LINE.match(line)
        if match:
            name, version, state, check, _rest = match.groups()
            found[name] = (version, state, check)
    return text, found


def test_required_lab_extensions_enabled_and_compatible(jupyter_env):
    text, found = labextension_list(jupyter_env)
    print(text)
    for name in REQUIRED:
        assert name in found, f"{name} not found by JupyterLab:\n{text}"
        version, state, check = found[name]
        assert (state, check) == ("enabled", "OK"), f"{name} v{version}: {state} {check}"
    broken = {name: info for name, info in found.items() if info[2] != "OK"}
    assert not broken, f"extensions with problems: {broken}\n{text}"
    assert "incompatible" not in text.lower(), text
    assert "outdated" not in text.lower(), text
