// LLM kernels compiled for the generic target (flags set in CMakeLists.txt); see matmul_impl.h.
#define PARE_KERN_NS generic
#define PARE_KERN_NAME "generic"
#include "llm/kernels/matmul_impl.h"
