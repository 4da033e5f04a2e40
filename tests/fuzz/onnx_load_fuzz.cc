// libFuzzer target for the ONNX loader and planner: arbitrary bytes → load_model_from_memory
// → Session::create (attribute parsing of every kernel). Must never crash, hang or allocate
// what a header claims. Run with `make fuzz` (FUZZ_SECONDS=N).
#include <cstddef>
#include <cstdint>

#include "onnx/onnx.h"
#include "runtime/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pare::onnx::LoadOptions options;
  auto model = pare::onnx::load_model_from_memory(data, size, "", options);
  if (!model.ok()) return 0;
  auto session = pare::runtime::Session::create(std::move(model).value());
  (void)session;
  return 0;
}
