"""The Great Expectations suites, one ``<table>.json`` per table, installed as ``pipeline._suites``.

This file only makes the folder a regular package: pyproject.toml maps it into the ``pipeline``
namespace so the suites ship in the wheel, and an editable install's import finder maps only
regular packages. ``pipeline.paths.suites()`` reads the folder through ``importlib.resources``.
"""
