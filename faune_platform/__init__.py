# Before anything can import faiss: it loads its own OpenBLAS once, and the kernels are chosen at
# that moment.
from faune_platform.blas import kernels_choose

kernels_choose()
