// The sparse kernels of spmm_impl.h for avx512 (compile flags: CMakeLists.txt).
#define PARE_SPMM_NS avx512
#include "kernels/sparse/spmm_impl.h"
