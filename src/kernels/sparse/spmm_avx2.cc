// The sparse kernels of spmm_impl.h for avx2 (compile flags: CMakeLists.txt).
#define PARE_SPMM_NS avx2
#include "kernels/sparse/spmm_impl.h"
