// Implementation of grad_check.h (compiled into the unit-test binary only: it uses the runtime).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "fmt/format.h"
#include "ops/grad/grad_check.h"
#include "ops/grad/gradient.h"
#include "passes/pass.h"
#include "runtime/session.h"

namespace pare::ops::testing {

Tensor random_tensor(const Shape& s, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

Tensor away_from_zero(const Shape& s, uint32_t seed) {
  Tensor t = random_tensor(s, seed, 0.2f, 1.0f);
  std::mt19937 rng(seed + 1);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (rng() & 1) t.data<float>()[i] = -t.data<float>()[i];
  }
  return t;
}

Tensor distinct(const Shape& s, uint32_t seed) {
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  std::vector<int64_t> order(static_cast<size_t>(t.numel()));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.05f * static_cast<float>(order[i]) - 0.025f * t.numel();
  return t;
}

GraphFn single_op(const std::string& op, Attrs attrs, size_t n_outputs, const std::string& domain) {
  return [=](ir::Graph& g, const std::vector<ir::Value*>& ins) {
    std::vector<ir::Value*> outs;
    for (size_t i = 0; i < n_outputs; ++i) outs.push_back(g.add_value("y" + std::to_string(i)));
    ir::Node* n = g.add_node(op, ins, outs, domain, "node_under_test");
    for (const auto& [k, a] : attrs) n->attributes()[k] = a.get();
    return outs;
  };
}

namespace {

bool differentiated(const GradCheck& c, size_t i) {
  return c.inputs[i].dtype() == DataType::kFloat32 && !(i < c.constant.size() && c.constant[i]);
}

// The graph with its loss; R tensors empty → outputs are the graph's outputs themselves.
Result<std::unique_ptr<ir::Model>> build(const GradCheck& c, const std::vector<Tensor>& r, bool with_gradient) {
  auto m = std::make_unique<ir::Model>();
  m->opsets = {{"", c.opset}, {kPareDomain, 1}, {"ai.onnx.preview.training", 1}};
  ir::Graph& g = *m->graph;
  std::vector<ir::Value*> ins;
  std::vector<std::string> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const std::string name = "x" + std::to_string(i);
    if (differentiated(c, i)) {
      ir::Value* v = g.add_value(name);
      std::vector<ir::Dim> dims;
      for (int64_t d : c.inputs[i].shape()) dims.push_back(ir::Dim::of(d));
      v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
      g.add_input(v);
      ins.push_back(v);
      xs.push_back(name);
    } else if (!c.inputs[i].defined()) {
      ins.push_back(nullptr);
    } else {
      ins.push_back(g.add_initializer(name, c.inputs[i]));
    }
  }
  std::vector<ir::Value*> ys = c.build(g, ins);
  if (r.empty()) {
    for (ir::Value* y : ys) g.outputs().push_back(y);
    return m;
  }
  ir::Value* loss = nullptr;
  for (size_t k = 0; k < ys.size(); ++k) {
    ir::Value* rk = g.add_initializer("r" + std::to_string(k), r[k]);
    ir::Value* prod = g.add_value("prod" + std::to_string(k));
    g.add_node("Mul", {ys[k], rk}, {prod});
    ir::Value* s = g.add_value("sum" + std::to_string(k));
    ir::Node* rs = g.add_node("ReduceSum", {prod}, {s});
    rs->attributes()["keepdims"] = attr_int(0);
    if (!loss) {
      loss = s;
    } else {
      ir::Value* t = g.add_value("total" + std::to_string(k));
      g.add_node("Add", {loss, s}, {t});
      loss = t;
    }
  }
  g.rename_value(loss, "loss");
  g.outputs().push_back(loss);
  if (with_gradient) {
    PARE_RETURN_IF_ERROR(passes::infer_shapes(*m).status());
    std::vector<ir::Value*> grads;
    for (const std::string& x : xs) grads.push_back(g.add_value("grad_" + x));
    ir::Node* gn = g.add_node("Gradient", {}, grads, "ai.onnx.preview.training", "gradient");
    ir::Attribute xa;
    xa.type = ir::AttrType::kStrings;
    xa.strings = xs;
    gn->attributes()["xs"] = std::move(xa);
    gn->attributes()["y"] = attr_string("loss");
    for (ir::Value* v : grads) g.outputs().push_back(v);
  }
  return m;
}

}  // namespace

std::string check_gradients(const GradCheck& c) {
  runtime::SessionOptions so;
  so.reference_kernels = c.reference_kernels;
  so.num_threads = 1;
  std::vector<std::pair<std::string, RunValue>> feeds;
  std::vector<size_t> diff;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!differentiated(c, i)) continue;
    diff.push_back(i);
    Tensor copy = Tensor::create(DataType::kFloat32, c.inputs[i].shape()).value();
    std::copy_n(c.inputs[i].data<float>(), copy.numel(), copy.data<float>());
    feeds.push_back({"x" + std::to_string(i), RunValue(copy)});
  }
  // Output shapes, then one random weighting R_k per output.
  auto fwd_model = build(c, {}, false);
  if (!fwd_model.ok()) return fwd_model.status().to_string();
  auto fwd = runtime::Session::create(std::move(*fwd_model), so);
  if (!fwd.ok()) return "forward: " + fwd.status().to_string();
  auto ys = (*fwd)->run(feeds);
  if (!ys.ok()) return "forward run: " + ys.status().to_string();
  std::vector<Tensor> r;
  for (size_t k = 0; k < ys->size(); ++k) r.push_back(random_tensor((*ys)[k].tensor.shape(), 1000 + static_cast<uint32_t>(k)));

  auto loss_model = build(c, r, false);
  auto grad_model = build(c, r, true);
  if (!loss_model.ok()) return loss_model.status().to_string();
  if (!grad_model.ok()) return grad_model.status().to_string();
  auto ls = runtime::Session::create(std::move(*loss_model), so);
  auto gs = runtime::Session::create(std::move(*grad_model), so);
  if (!ls.ok()) return "loss: " + ls.status().to_string();
  if (!gs.ok()) return "gradient: " + gs.status().to_string();
  if (!c.expect_kernel.empty()) {
    bool found = false;
    std::string all;
    for (const auto& [node, kernel] : (*gs)->kernel_choices()) {
      found |= kernel == c.expect_kernel;
      all += node + ":" + kernel + " ";
    }
    if (!found) return "no node runs kernel '" + c.expect_kernel + "': " + all;
  }
  auto grads = (*gs)->run(feeds);
  if (!grads.ok()) return "gradient run: " + grads.status().to_string();
  std::string errors;
  int shown = 0;
  for (size_t d = 0; d < diff.size(); ++d) {
    const Tensor& analytic = (*grads)[d + 1].tensor;
    Tensor& x = feeds[d].second.tensor;
    if (analytic.shape() != x.shape()) return fmt::format("gradient of x{} has shape {}, input {}", diff[d], analytic.type_string(), x.type_string());
    for (int64_t j = 0; j < x.numel(); ++j) {
      const float saved = x.data<float>()[j];
      double l[2];
      for (int s = 0; s < 2; ++s) {
        x.data<float>()[j] = saved + (s ? -c.eps : c.eps);
        auto out = (*ls)->run(feeds);
        if (!out.ok()) return "loss run: " + out.status().to_string();
        l[s] = (*out)[0].tensor.data<float>()[0];
      }
      x.data<float>()[j] = saved;
      const double numeric = (l[0] - l[1]) / (2.0 * c.eps), a = analytic.data<float>()[j];
      if (!(std::abs(a - numeric) <= c.tolerance * (1.0 + std::abs(numeric))) && shown++ < 5) {
        errors += fmt::format("d loss / d x{}[{}]: analytic {} numeric {}\n", diff[d], j, a, numeric);
      }
    }
  }
  return errors;
}

}  // namespace pare::ops::testing
