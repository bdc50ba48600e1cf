"""The static HTML report (``callscore report``, the nightly DAG's last task).

``build.build_report`` writes the site from the published tables (``data`` runs the queries,
``charts`` makes the Vega-Altair specs); the pinned Vega files it serves come from
``pipeline.warehouse.assets``. Imports stay in the submodules, so importing the package is cheap.
"""
