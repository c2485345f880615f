"""The BLAS kernels faiss runs are chosen before it loads, without overriding the machine's
own choice."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from faune_platform.blas import CORE_WITH_AVX2, VARIABLE, _cpu_flags, kernels_choose

ROOT = Path(__file__).resolve().parents[2]
FAISS_ARCHITECTURE = (
    "import faune_platform, faiss, json, threadpoolctl;"
    "blas = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas'];"
    "print(json.dumps([i.get('architecture') for i in blas if 'faiss' in i['filepath']]))"
)


def test_set_when_unset_and_the_cpu_has_avx2():
    environ: dict[str, str] = {}
    assert kernels_choose(environ, {"sse4_2", "avx2"}) == CORE_WITH_AVX2
    assert environ == {VARIABLE: CORE_WITH_AVX2}


def test_left_alone_without_avx2_or_when_the_machine_chose():
    environ: dict[str, str] = {}
    assert kernels_choose(environ, {"sse4_2"}) is None and environ == {}
    chosen = {VARIABLE: "SkylakeX"}
    assert kernels_choose(chosen, {"avx2"}) is None and chosen == {VARIABLE: "SkylakeX"}


def _faiss_kernels(environ: dict[str, str]) -> list[str]:
    answer = subprocess.run(
        [sys.executable, "-c", FAISS_ARCHITECTURE],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


@pytest.mark.skipif("avx2" not in _cpu_flags(), reason="the Haswell kernels need a CPU with AVX2")
def test_faiss_loads_with_the_chosen_kernels_in_a_fresh_process():
    environ = {key: value for key, value in os.environ.items() if key != VARIABLE}
    assert _faiss_kernels(environ) == [CORE_WITH_AVX2]
    assert _faiss_kernels({**environ, VARIABLE: "Sandybridge"}) == [
        "Sandybridge"
    ]  # the machine's value wins
