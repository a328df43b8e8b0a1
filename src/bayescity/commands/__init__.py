"""Command-line commands beyond ``run`` and ``data``: ``report``, ``models``, ``sweep``,
``calibrate``, and the run's progress display, closing table and signal handling (``cli.py``
wires them in)."""
