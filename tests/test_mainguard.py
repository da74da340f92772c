"""A script that starts worker processes from unguarded top-level code is told so at once.

Without ``if __name__ == "__main__":`` every worker runs the script again and dies while
starting; face-bench used to record every image as a crashed worker and end with a message
that never said why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from test_doc_blocks import blocks

POOL = """\
import multiprocessing, os
from face_bench.core.processes import stopping_pool

def work():
    with stopping_pool(max_workers=1, mp_context=multiprocessing.get_context({method!r})) as pool:
        print("worker", pool.submit(os.getpid).result() != os.getpid())
"""


def run_script(folder: Path, text: str, name: str = "script.py") -> subprocess.CompletedProcess:
    (folder / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, name]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_unguarded_script_is_refused_with_one_line_naming_the_fix(tmp_path: Path) -> None:
    done = run_script(tmp_path, POOL.format(method="spawn") + "work()\n")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("face_bench.core.errors.UnguardedMainError: ")
    assert "script.py line 7 " in last and 'if __name__ == "__main__":' in last
    assert "worker" not in done.stdout


def test_guarded_script_starts_its_workers(tmp_path: Path) -> None:
    guarded = POOL.format(method="spawn") + 'if __name__ == "__main__":\n    work()\n'
    done = run_script(tmp_path, guarded)
    assert (done.returncode, done.stdout) == (0, "worker True\n"), done.stderr


def test_forked_workers_need_no_guard(tmp_path: Path) -> None:
    done = run_script(tmp_path, POOL.format(method="fork") + "work()\n")
    assert (done.returncode, done.stdout) == (0, "worker True\n"), done.stderr


def test_code_without_a_script_file_needs_no_guard(tmp_path: Path) -> None:
    code = POOL.format(method="spawn") + "work()\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, "worker True\n"), done.stderr


def test_a_package_main_needs_no_guard(tmp_path: Path) -> None:
    """``python -m package`` (as ``python -m face_bench``): its ``__main__.py`` is never run
    again in the workers, so top-level code there may start them."""
    package = tmp_path / "tool"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__main__.py").write_text(POOL.format(method="spawn") + "work()\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}
    done = subprocess.run(
        [sys.executable, "-m", "tool"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, "worker True\n"), done.stderr


def test_a_module_run_with_dash_m_is_checked_like_a_script(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(POOL.format(method="spawn") + "work()\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}
    done = subprocess.run(
        [sys.executable, "-m", "job"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0 and "job.py line 7 " in done.stderr.strip().splitlines()[-1]


def test_readme_api_example_without_its_guard_stops_before_any_work(tmp_path: Path) -> None:
    """The README's example with its guard removed, as a user might first write it."""
    [(_, example)] = [b for b in blocks("python") if b[0].startswith("README.md")]
    guard = 'if __name__ == "__main__":'
    assert guard in example
    unguarded = example.split(guard)[0] + "main()\n"
    workers = 'EmbedSettings(models=("dlib",), workers=2)'  # whatever the CPUs
    unguarded = unguarded.replace('EmbedSettings(models=("dlib",))', workers)
    assert workers in unguarded
    done = run_script(tmp_path, unguarded, "api.py")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "UnguardedMainError" in last and guard in last and "api.py line " in last
    assert not (tmp_path / "out").exists()
