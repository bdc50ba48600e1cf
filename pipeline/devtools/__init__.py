"""Tools for people working on callscore: the sample generator and the benchmarks.

Nothing in production imports this package; only the ``callscore sample`` and
``callscore bench`` commands (and the tests) do.
"""
