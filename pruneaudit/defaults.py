"""Every default and threshold the audit applies, defined once: config, CLI help, metrics and report read them here."""

DEVICES = ("auto", "cpu", "cuda")
DEFAULT_DEVICE = "auto"
DEFAULT_BATCH_SIZE = 256  # images per inference batch
DEFAULT_TOLERANCE = 0.01  # a class is harmed/helped when |Δ recall| exceeds 1 pp
DEFAULT_ALPHA = 0.05  # significance level after multiple-comparison correction
SPARSITY_MISMATCH = 0.02  # |declared amount − measured sparsity| beyond this is flagged
TOP_PIES = 24  # exemplars per configuration shown in the card (all are counted)
