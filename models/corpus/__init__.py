"""The labelled corpus and the evaluation sets, installed as ``pipeline._corpus``.

This file only makes the folder a regular package: pyproject.toml maps it into the ``pipeline``
namespace so the corpus ships in the wheel, and an editable install's import finder maps only
regular packages. ``pipeline.paths.corpus_dir()`` reads the folder through ``importlib.resources``.
"""
