"""callscore: label every sales-rep turn and publish per-rep scorecards.

The package runs with or without Airflow: ``pipeline.run`` holds the day-level
functions that the ``callscore`` command and the DAG tasks both call.
"""

__version__ = "0.1.0"

LABELS: tuple[str, ...] = ("knowledge_probing", "rapport", "trust_commitment", "other")
"""The four utterance labels, in the order of the model's output logits."""
