"""face-bench: verification benchmarks for face-recognition models.

The public API is re-exported here; heavy libraries (dlib, onnxruntime, umap,
matplotlib) are imported only by the functions that need them.
"""

from face_bench.core.errors import FaceBenchError

__version__ = "0.1.0"

__all__ = ["FaceBenchError", "__version__"]
