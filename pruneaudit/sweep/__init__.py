"""`pruneaudit prune`: make the populations of pruned models that an audit compares.

config.py validates a sweep file (no torch); masks.py, train.py and export.py prune, fine-tune and
save one model; run.py plans the sweep, resumes it, spreads it over local workers and writes the
manifest and the audit configs (audit_config.py).
"""
