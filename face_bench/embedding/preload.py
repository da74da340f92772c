"""What every embedding worker needs, whatever the run: loaded once in the workers' server.

multiprocessing's forkserver imports this module when it starts (early in a first run,
``embedding.server.start_worker_server``; otherwise with the first pool). Each worker then
forks from the server with numpy, Pillow, dlib, onnxruntime, face-bench's face stage and
dlib's HOG detector and 5-point shape predictor already in memory. Building the detector
alone takes about a third of a second (dlib parses it from text), time the server spends
once instead of each worker spending it before its first image. With ``--detector
yunet`` each worker opens its own one-thread YuNet session (a few ms) when it starts: the
weights file is known only once a run is planned.
"""

from __future__ import annotations

import contextlib

import onnxruntime  # noqa: F401 - imported for the workers that fork from here
import scipy.fft  # noqa: F401 - near-duplicate fingerprints from the workers' own decode

from face_bench.embedding import workers  # noqa: F401 - the workers' own module
from face_bench.faces import yunet  # noqa: F401 - YuNet's session opens in each worker
from face_bench.faces.alignment import get_aligner

# Missing weights are reported by the worker that needs them, as the usual one-line
# error; here they must not stop the server from starting.
with contextlib.suppress(Exception):
    get_aligner()
