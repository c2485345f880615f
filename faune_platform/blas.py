"""Choose the BLAS kernels before faiss loads the OpenBLAS it bundles.

faiss-cpu ships OpenBLAS 0.3.15, which fails to recognise some virtual Xeon CPUs and then falls back
to its generic kernels: k-means and flat searches ran 3x slower on such a machine than with
`OPENBLAS_CORETYPE=Haswell`, while numpy's newer OpenBLAS chose well on the same CPU. OpenBLAS reads
the variable once, when the library loads, so it must be set before the first `import faiss`;
`faune_platform/__init__.py` calls `kernels_choose()` so that every entry point (web, worker,
commands, tests, benches) gets it. Haswell kernels need AVX2 and run on every CPU that has it. A
value the machine already sets is never overridden.

No Django here: engine code and benches import it too."""

import os
from collections.abc import MutableMapping
from pathlib import Path

VARIABLE = "OPENBLAS_CORETYPE"
CORE_WITH_AVX2 = "Haswell"
CPU_INFO = Path("/proc/cpuinfo")


def kernels_choose(
    environ: MutableMapping[str, str] = os.environ, cpu_flags: set[str] | None = None
) -> str | None:
    """Set OPENBLAS_CORETYPE when unset and the CPU has AVX2; return the value set, or None when
    left alone."""
    if environ.get(VARIABLE):
        return None
    flags = cpu_flags if cpu_flags is not None else _cpu_flags()
    if "avx2" not in flags:
        return None
    environ[VARIABLE] = CORE_WITH_AVX2
    return CORE_WITH_AVX2


def kernels_report() -> str:
    """One line naming each BLAS library loaded in this process, its version and the kernels
    it runs."""
    import faiss  # noqa: F401  (loaded so that its OpenBLAS is part of the report)
    from threadpoolctl import threadpool_info

    libraries = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    parts = [
        f"{Path(info['filepath']).parent.name.removesuffix('.libs')}: {info['internal_api']} "
        f"{info.get('version')} {info.get('architecture')}"
        for info in libraries
    ]
    setting = os.environ.get(VARIABLE, "unset")
    return f"BLAS kernels ({VARIABLE}={setting}): " + "; ".join(parts)


def _cpu_flags() -> set[str]:
    try:
        text = CPU_INFO.read_text()
    except OSError:  # not Linux: leave OpenBLAS to its own detection
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()
