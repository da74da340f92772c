"""Names vulture reports as unused that are used by something it cannot see.

Every line says who uses the name. Real dead code is deleted, not listed here. Run
``vulture`` in the repository root (its settings are in pyproject.toml).
"""

# ruff: noqa: B018, F821 - bare names and attributes are how vulture whitelists work

_ = object()

__getattr__  # Python: PEP 562 module hook of the lazy public API (face_bench/__init__.py)
__dir__  # Python: PEP 562 module hook of the lazy public API (face_bench/__init__.py)

MMOD  # typed by users: --detector mmod, --fallback-detector mmod (core/modes.py)
RAY  # typed by users: --engine ray (core/modes.py)
ONNX  # typed by users: --dlib-runtime onnx (core/modes.py)
FOLDER  # typed by users: --identity-from folder (core/modes.py)
CSV  # typed by users: export-scores --to csv (core/modes.py)
SVG  # typed by users: --figure-format svg (core/modes.py)
PDF  # typed by users: --figure-format pdf (core/modes.py)
ISOTONIC  # typed by users: face-bench calibrate --method isotonic

_.MAX_IMAGE_PIXELS  # read by Pillow: its decompression-bomb limit
_.graph_optimization_level  # read by onnxruntime.SessionOptions
_.__signature__  # read by inspect.signature: Typer reads a grouped command's options (cli.groups)
_.__annotations__  # read by typing.get_type_hints: Typer, on the same commands
_.intra_op_num_threads  # read by onnxruntime.SessionOptions
_.inter_op_num_threads  # read by onnxruntime.SessionOptions
_.log_severity_level  # read by onnxruntime.SessionOptions
_.ir_version  # read by onnx when a ModelProto is saved (models/dlib_onnx.py, tests' models)
_.dim_value  # read by onnx: TensorShapeProto dimensions the tests' models set
_.max_redirections  # read by urllib's HTTPRedirectHandler (data/http_guard.py)
_.http_open  # called by urllib's opener as <scheme>_open on its handlers
_.https_open  # called by urllib's opener as <scheme>_open on its handlers
_.do_GET  # called by http.server for GET requests (tests' LFW mirror)
_.log_message  # called by http.server to log a request (tests' LFW mirror)

dataset_digest  # written to the gate's JSON report and the calibration file
sample_requested  # written to results.json (subsets[].sample_requested)
score_orientation  # written to results.json
skipped_models  # written to results.json
target_fmr  # written to results.json (metrics.at_target_fmr.target_fmr)
auc_definition  # written to results.json (metrics.auc_definition)
fallback_detector_images  # written to results.json (metrics.fallback_detector_images)
cross_fitting  # written to the calibration file (results/calibration_file.py)
std_ddof  # written to lfw.json (run/lfw.py)


face_png_named_jpg  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
face_webp_named_jpg  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
face_cmyk_jpeg  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
face_grey_png  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
face_grey16_png  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
face_grey_tiff  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
face_palette_tiff  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
face_alpha_png  # built by name: getattr(corpus, f"face_{key}") in tests/test_bad_input.py
