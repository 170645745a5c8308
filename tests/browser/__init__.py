"""Real-browser tests of the explorer (JupyterLab and Voila); see conftest.py."""
