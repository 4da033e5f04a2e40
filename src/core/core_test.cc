#include <gtest/gtest.h>

#include <cmath>

#include "core/dispatch.h"
#include "core/half.h"
#include "core/tensor.h"

namespace pare {
namespace {

TEST(Float16, RoundTripsExactValuesAndRoundsToNearestEven) {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    EXPECT_EQ(static_cast<float>(Float16(f)), f) << f;
  }
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
  EXPECT_EQ(Float16(1.0f + 0.00048828125f).bits, 0x3c00);
  EXPECT_EQ(Float16(1.0f + 3 * 0.00048828125f).bits, 0x3c02);
  EXPECT_EQ(Float16(1e6f).bits, 0x7c00);  // overflow → inf
  EXPECT_TRUE(std::isnan(static_cast<float>(Float16(NAN))));
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(static_cast<float>(BFloat16(3.140625f)), 3.140625f);
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(NAN))));
}

TEST(Shape, RejectsNegativeAndOverflowingExtents) {
  EXPECT_EQ(shape_numel_checked({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel_checked({}), 1);
  EXPECT_EQ(shape_numel_checked({0, 5}), 0);
  EXPECT_EQ(shape_numel_checked({-1, 5}), -1);
  EXPECT_EQ(shape_numel_checked({int64_t{1} << 32, int64_t{1} << 32}), -1);
  EXPECT_EQ(shape_numel_checked({0, int64_t{1} << 62, 4}), 0);
}

TEST(Tensor, CreateChecksSizeAndZeroFills) {
  auto t = Tensor::create(DataType::kFloat32, {2, 3});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->numel(), 6);
  EXPECT_EQ(t->nbytes(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw_data()) % kTensorAlignment, 0u);
  EXPECT_EQ(t->data<float>()[5], 0.0f);
  auto huge = Tensor::create(DataType::kFloat32, {int64_t{1} << 39});
  EXPECT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
  auto neg = Tensor::create(DataType::kFloat32, {-3});
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidInput);
}

TEST(Tensor, ReshapeSharesStorageAndCloneCopies) {
  Tensor t = Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4});
  auto r = t.reshaped({4});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data<int64_t>(), t.data<int64_t>());
  EXPECT_FALSE(t.reshaped({3}).ok());
  auto c = t.clone();
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->data<int64_t>(), t.data<int64_t>());
  EXPECT_EQ(c->data<int64_t>()[3], 4);
}

TEST(Tensor, StringsAndScalars) {
  Tensor s = Tensor::from_vector<std::string>({2}, {"a", "bc"});
  EXPECT_EQ(s.data<std::string>()[1], "bc");
  Tensor x = Tensor::scalar<float>(2.5f);
  EXPECT_EQ(x.rank(), 0);
  EXPECT_EQ(x.numel(), 1);
  EXPECT_DOUBLE_EQ(x.float_at(0), 2.5);
}

TEST(Dispatch, CoversTheRequestedSet) {
  int calls = 0;
  EXPECT_TRUE(dispatch_float(DataType::kBFloat16, [&]<typename T>() { calls += std::is_same_v<T, BFloat16>; }));
  EXPECT_FALSE(dispatch_float(DataType::kInt32, [&]<typename T>() { ++calls; }));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace pare
