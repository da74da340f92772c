"""The path of a small report run through the modules (.ci/module_walk.py): the report never
calls back into the run, and the only calls that climb the floors are callbacks."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import JP_FACES, REPO, needs_shared

# Functions handed down: a command's progress bars and notes, the check that may refuse the
# chosen models before anything is embedded, and the worker's hook that fingerprints each
# photo from the decode the face stage makes anyway.
CALLBACK_MODULES = {
    "face_bench.cli.console",
    "face_bench.run.embed",
    "face_bench.embedding.workers",
}
# The report's one call into the run: writing the run folder's scores.csv from the evaluation
# handed to it (``Evaluation.scores_frame``). Rendering reads the folder alone.
WRITES_RUN_FOLDER = {("face_bench.report.outputs", "face_bench.run.evaluation")}


@needs_shared
@pytest.mark.slow
def test_the_walk_climbs_only_into_callbacks_and_the_report_calls_the_run_only_to_write_it():
    out = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "module_walk.py"), "--data", str(JP_FACES),
         "--sample", "8", "--between", "report:run"],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=600,
    ).stdout  # fmt: skip
    climbs = int(re.search(r"hops climbing up the layers: (\d+)", out).group(1))
    hops = re.findall(r"^  (face_bench\S+) -> (face_bench\S+)  \(\d+ calls?\)$", out, re.M)
    climbing, report_to_run = hops[:climbs], set(hops[climbs:])
    assert int(re.search(r"modules passed through: (\d+)", out).group(1)) > 40
    assert {callee for _caller, callee in climbing} <= CALLBACK_MODULES, out
    assert report_to_run <= WRITES_RUN_FOLDER, out
