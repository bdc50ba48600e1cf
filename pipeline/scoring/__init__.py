"""From labelled turns to decisions: per-call and per-rep metrics, and the run summary.

Pure functions on frames; nothing here reads or writes storage.
"""
