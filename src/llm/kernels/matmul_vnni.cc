// LLM kernels compiled for the vnni target (flags set in CMakeLists.txt); see matmul_impl.h.
#define PARE_KERN_NS vnni
#define PARE_KERN_NAME "vnni"
#include "llm/kernels/matmul_impl.h"
