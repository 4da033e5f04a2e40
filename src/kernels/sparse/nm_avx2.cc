// The N:M kernels of nm_impl.h for avx2 (compile flags: CMakeLists.txt).
#define PARE_NM_NS avx2
#include "kernels/sparse/nm_impl.h"
