"""`pruneaudit mitigate`: fine-tune a pruned model, its sparsity mask held fixed, for the classes its audit found harmed.

It reads an audit (results.json) and never renders one: ``harm`` picks the harmed classes and checks the
splits without torch; ``heldout`` carves the split the recovered models are re-audited on; ``objectives``
holds the two losses (class-reweighted cross-entropy; the constrained formulation of Hashemizadeh et al.
2023); ``run`` loads the models, fine-tunes, writes the files, the manifest and the re-audit's config
(for a sweep's model; `run.Plan`, `run.measure` and `run.recover` are what every source shares); ``plain``
does the same for a model an ordinary audit config declares, on ``--train-data``, with no sweep.
"""
