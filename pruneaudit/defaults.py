"""Every default and threshold the audit applies, defined once: config, CLI help, metrics and report read them here."""

DEVICES = ("auto", "cpu", "cuda")
DEFAULT_DEVICE = "auto"
DEFAULT_BATCH_SIZE = 256  # images per inference batch
DEFAULT_TOLERANCE = 0.01  # a class is harmed/helped when |Δ recall| exceeds 1 pp
DEFAULT_ALPHA = 0.05  # significance level after multiple-comparison correction
SPARSITY_MISMATCH = 0.02  # |declared amount − measured sparsity| beyond this is flagged
TOP_PIES = 24  # exemplars per configuration shown in the card (all are counted)
# Arrays read whole (an .npz, a labels .npy, precomputed outputs) stay in memory for the whole audit.
# 4 GiB holds every common test set as uint8 arrays (MNIST, CIFAR, ~28k images of 3x224x224) and still
# fits a 16 GB CI runner next to torch; larger sets raise max_bytes or use a memory-mapped images .npy.
DEFAULT_MAX_BYTES = 4 * 2**30
# A zip member that inflates more than this many times is a zip bomb, not images: real image arrays
# compress 2-20x; only members above the floor are checked, since small constant arrays (labels of
# one class, a split array) legitimately compress ~1000x.
NPZ_MAX_RATIO = 200
NPZ_RATIO_FLOOR = 64 * 2**20
