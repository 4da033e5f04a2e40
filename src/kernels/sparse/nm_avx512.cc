// The N:M kernels of nm_impl.h for avx512 (compile flags: CMakeLists.txt).
#define PARE_NM_NS avx512
#include "kernels/sparse/nm_impl.h"
