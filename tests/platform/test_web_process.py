"""A web process runs FAISS searches with one OpenMP thread (its requests are its parallelism),
unless the machine sets the thread count itself."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THREADS_IN_WEB_PROCESS = "import faune_platform.wsgi, faiss; print(faiss.omp_get_max_threads())"


def _threads(**variables: str) -> int:
    environ = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    answer = subprocess.run(
        [sys.executable, "-c", THREADS_IN_WEB_PROCESS],
        cwd=ROOT,
        env={**environ, **variables},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(answer.stdout.split()[-1])


def test_a_web_process_searches_with_one_openmp_thread():
    assert _threads() == 1


def test_a_thread_count_the_machine_sets_is_kept():
    assert _threads(OMP_NUM_THREADS="3") == 3
