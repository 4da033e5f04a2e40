#include "runtime/buffer_pool.h"

#include <gtest/gtest.h>

#include "core/tensor.h"

namespace pare::runtime {
namespace {

TEST(BufferPool, ReusesFreedBuffersOfTheSameSizeClassZeroFilled) {
  BufferPool pool;
  void* first = nullptr;
  {
    auto t = Tensor::create(DataType::kFloat32, {1000}, &pool);
    ASSERT_TRUE(t.ok());
    first = t->raw_data();
    t->data<float>()[7] = 3.0f;
    EXPECT_EQ(pool.bytes_in_use(), 4032u);  // 4000 rounded to 64
  }
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  auto again = Tensor::create(DataType::kFloat32, {995}, &pool);  // 3980 bytes: same class
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->raw_data(), first);
  EXPECT_EQ(again->data<float>()[7], 0.0f);
  EXPECT_EQ(pool.allocations(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again->raw_data()) % kTensorAlignment, 0u);
}

TEST(BufferPool, TracksPeakAndOutlivingBuffersAreFreedSafely) {
  Tensor kept;
  {
    BufferPool pool;
    auto a = Tensor::create(DataType::kUInt8, {100000}, &pool);
    auto b = Tensor::create(DataType::kUInt8, {100000}, &pool);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_GE(pool.peak_bytes_in_use(), 200000u);
    kept = *a;
  }
  kept.data<uint8_t>()[0] = 1;  // the pool is gone; the buffer is still valid
  EXPECT_EQ(kept.data<uint8_t>()[0], 1);
}

TEST(BufferPool, RefusesAbsurdSizes) {
  BufferPool pool;
  auto r = pool.allocate(kMaxAllocationBytes + 1);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace pare::runtime
