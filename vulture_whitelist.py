"""Names vulture reports as unused that are used by something it cannot see.

Each entry says who uses it. Real dead code is deleted, not listed here. Run ``vulture``
in the repository root (its settings are in pyproject.toml).
"""

# ruff: noqa: B018, F821 - bare names and attributes are how vulture whitelists work

_ = object()

# Python itself: PEP 562 module hooks of the lazy public API.
__getattr__
__dir__

# Choices users type on the command line (enum members reached by value, not by name).
MMOD
LOCAL
RAY
ONNX
REJECT
DETECT  # AlignMode: --align detect
FOLDER
FILENAME
CSV
SVG
PDF
ISOTONIC  # face-bench calibrate --method isotonic

# Settings read by the libraries they are set on.
_.MAX_IMAGE_PIXELS  # Pillow's decompression-bomb limit
_.graph_optimization_level  # onnxruntime.SessionOptions
_.intra_op_num_threads
_.max_redirections  # urllib's HTTPRedirectHandler (face-bench's fetch)
_.http_open  # urllib's opener calls <scheme>_open on its handlers
_.https_open
_.inter_op_num_threads
_.log_severity_level
_.ir_version  # onnx.ModelProto
_.dim_value  # onnx TensorShapeProto dimensions (tests build models)
_.do_GET  # http.server handler methods (tests' LFW mirror)
_.log_message

# Fields of records written to results.json / lfw.json: read by people and other tools.
dataset_digest
std_error
sample_requested
schema_version
score_orientation
skipped_models
std_ddof
auc_definition  # results.json metric blocks (face_bench.results.blocks), set by run/
at_target_fmr
pairs_sha256  # read by the gate through getattr
fallback_detector_images
threshold_transfer
fmr_by_pair_demographics
matched_fmr
matched_fmr_errors
matched_n_impostor
matched_fmr_ratio
matched_definition
target_fmr
pairs_sha256  # read by the gate through getattr
threshold_mean
threshold_min
threshold_max
from_subset  # written as "from"
cross_fitting  # the calibration file's folds and seed (face_bench.results.calibration_file)
_omit_unset_extras  # pydantic calls it (@model_serializer on results blocks)

# Types only annotations use.
EmbeddingStore  # Protocol the embedding step is typed against
Template  # Literal of the chip templates


# Test fixtures looked up by name (tests/corpus.py builds images for parametrized tests).
GREEN
face_png_named_jpg
face_webp_named_jpg
face_cmyk_jpeg
face_grey_png
face_grey16_png
face_grey_tiff
face_palette_tiff
face_alpha_png
