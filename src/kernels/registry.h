// The runtime's kernel registry: every reference kernel plus the fast kernels of kernels/,
// which register for the same ops with a higher priority and a condition (DESIGN.md §3).
#pragma once

#include "ops/kernel.h"

namespace pare::kernels {

const ops::KernelRegistry& registry();

}  // namespace pare::kernels
