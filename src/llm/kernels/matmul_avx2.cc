// LLM kernels compiled for the avx2 target (flags set in CMakeLists.txt); see matmul_impl.h.
#define PARE_KERN_NS avx2
#define PARE_KERN_NAME "avx2"
#include "llm/kernels/matmul_impl.h"
