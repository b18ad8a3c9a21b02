"""Integrity upkeep: verification of the archive, signed checkpoints, the fixity cycle.

- ``fixity`` — the whole archive at once (``wenshu verify``, ``POST /api/v1/audit/fixity``),
  recording the outcome; checkpoints on demand.
- ``since`` — only what was added after the last verified signed checkpoint
  (``wenshu verify --since-checkpoint``).
- ``cycle`` — the recurring check: a slice per run, every document once per cycle, from a
  cursor kept in the database (``wenshu fixity``, the timer of ``wenshu serve``).
- ``documents`` — the per-document work (blob hashes, PDF signature) in a process pool.
"""
