#include "kernels/registry.h"

namespace pare::kernels {

#define PARE_KERNEL(name) void register_##name(ops::KernelRegistry& r);
#include "kernels/kernel_list.inc"
#undef PARE_KERNEL

const ops::KernelRegistry& registry() {
  static const ops::KernelRegistry* r = [] {
    auto* reg = new ops::KernelRegistry(ops::KernelRegistry::reference());
#define PARE_KERNEL(name) register_##name(*reg);
#include "kernels/kernel_list.inc"
#undef PARE_KERNEL
    return reg;
  }();
  return *r;
}

}  // namespace pare::kernels
