"""Every default and threshold the audit applies, defined once: config, CLI help, metrics and report read them here."""

DEVICES = ("auto", "cpu", "cuda")
DEFAULT_DEVICE = "auto"
DEFAULT_BATCH_SIZE = 256  # images per inference batch
PRECISIONS = ("fp32", "bf16", "fp16")  # parameter and input dtype of torch models (ONNX keeps its own)
DEFAULT_PRECISION = "fp32"
# Models loaded together for one pass over the data: each batch is read and preprocessed once for
# the whole group. The budget bounds the group's parameters as loaded (on the device, or in RAM on
# the CPU): 2 GiB is ~20 ResNet-50s in fp32, or every sample model many times over, and leaves room
# for activations on a 16 GB GPU or a 16 GB CI runner. A model larger than the budget runs alone.
GROUP_PARAMETER_BYTES = 2 * 2**30
# ... and at most this many models, whatever their size: each holds its (N,) predictions and top-5 hits
# while the group runs, so that 4,000 saved-prediction models (no parameters) are not one group of ~0.7 GB.
GROUP_MODELS = 64
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
