// The N:M kernels of nm_impl.h for generic (compile flags: CMakeLists.txt).
#define PARE_NM_NS generic
#include "kernels/sparse/nm_impl.h"
