"""Real-browser tests: JupyterLab + headless Chromium (``pytest -m e2e``)."""
