#include <cstdlib>
#include <cstring>

#include "llm/kernels/kernels.h"

namespace pare::llm {

const KernelTable* kernels_by_name(const char* name) {
  if (!std::strcmp(name, "generic")) return &generic::table();
  if (!std::strcmp(name, "avx2"))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") ? &avx2::table() : nullptr;
  if (!std::strcmp(name, "vnni"))
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma")
               ? &vnni::table()
               : nullptr;
  return nullptr;
}

const KernelTable& active_kernels() {
  static const KernelTable* t = [] {
    if (const char* forced = std::getenv("PARE_LLM_ISA"))
      if (const KernelTable* k = kernels_by_name(forced)) return k;
    for (const char* n : {"vnni", "avx2"})
      if (const KernelTable* k = kernels_by_name(n)) return k;
    return &generic::table();
  }();
  return *t;
}

}  // namespace pare::llm
