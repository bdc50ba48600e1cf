"""The warehouse: the only stage that touches storage.

``storage`` does all reading and writing (fsspec URLs, so local paths and ``s3://`` behave
alike); ``layout`` knows where each table, staging area and quarantine record lives and
publishes atomically; ``quality`` is the Great Expectations gate and ``datadocs`` its site;
``query`` is SQL over the published tables.
"""
