"""The utterance classifier: corpus, training, evaluation, the model card and inference.

``classify`` holds the one inference loop (nightly runs, training's dev scoring and the
benchmarks all go through it). Pure of storage: model folders are local directories.
"""

META_FILE = "callscore.json"
"""The file that makes a folder a callscore model (version, input format, training facts).
Here, not in ``modeling``, so a cheap existence check needs no torch import."""
