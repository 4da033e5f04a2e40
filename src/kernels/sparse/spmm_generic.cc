// The sparse kernels of spmm_impl.h for generic (compile flags: CMakeLists.txt).
#define PARE_SPMM_NS generic
#include "kernels/sparse/spmm_impl.h"
