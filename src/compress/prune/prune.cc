// Driver of pruning: validates the options and the model, selects the layers, runs the method
// and measures parameters and FLOPs before and after.
#include "compress/prune/prune.h"

#include <algorithm>
#include <set>

#include "compress/prune/internal.h"

namespace pare::prune {
namespace internal {

bool as_layer(ir::Node* n, Layer* out) {
  const std::string& op = n->op_type();
  if (!n->domain().empty() && n->domain() != "ai.onnx") return false;
  if (op != "Conv" && op != "Gemm" && op != "MatMul") return false;
  ir::Value* w = n->input(1);
  if (!w || !w->initializer() || w->initializer()->dtype() != DataType::kFloat32) return false;
  const int64_t r = w->initializer()->rank();
  if (op == "Conv" ? r < 3 : r != 2) return false;
  out->node = n;
  out->weight = w;
  ir::Value* b = op == "MatMul" ? nullptr : n->input(2);
  out->bias = b && b->initializer() && b->initializer()->dtype() == DataType::kFloat32 ? b : nullptr;
  return true;
}

Result<Selector> Selector::create(const Options& o) {
  Selector s;
  for (const std::string& op : o.op_types) {
    if (op != "Conv" && op != "Gemm" && op != "MatMul") return invalid_input("--op-types: '{}' cannot be pruned (Conv, Gemm, MatMul)", op);
    s.ops_.push_back(op);
  }
  if (s.ops_.empty()) return invalid_input("--op-types is empty");
  auto compile = [](const std::vector<std::string>& pats, std::vector<std::regex>& out, const char* what) -> Status {
    for (const std::string& p : pats) {
      try {
        out.emplace_back(p, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return invalid_input("{}: '{}' is not a valid regular expression ({})", what, p, e.what());
      }
    }
    return ok_status();
  };
  PARE_RETURN_IF_ERROR(compile(o.include, s.include_, "--include"));
  PARE_RETURN_IF_ERROR(compile(o.exclude, s.exclude_, "--exclude"));
  return s;
}

bool Selector::selected(const ir::Node& n) const {
  if (std::find(ops_.begin(), ops_.end(), n.op_type()) == ops_.end()) return false;
  auto any = [&](const std::vector<std::regex>& rs) {
    return std::any_of(rs.begin(), rs.end(), [&](const std::regex& r) { return std::regex_search(n.name(), r); });
  };
  if (!include_.empty() && !any(include_)) return false;
  return !any(exclude_);
}

std::span<float> float_span(Tensor& t) { return {t.data<float>(), static_cast<size_t>(t.numel())}; }

}  // namespace internal

namespace {

using internal::Layer;

Status validate(const Options& o) {
  switch (o.method) {
    case Method::kMagnitude:
      if (o.sparsity.has_value() == o.threshold.has_value()) {
        if (o.sparsity) return invalid_input("give one of --sparsity or --threshold, not both");
        return invalid_input("magnitude pruning needs --sparsity S or --threshold EPS");
      }
      if (o.sparsity && !(*o.sparsity >= 0 && *o.sparsity < 1)) return invalid_input("--sparsity must be in [0, 1), got {}", *o.sparsity);
      if (o.threshold && !(*o.threshold >= 0)) return invalid_input("--threshold must be >= 0, got {}", *o.threshold);
      break;
    case Method::kNM:
      if (!(o.m >= 2 && o.n >= 1 && o.n < o.m)) return invalid_input("N:M needs 1 <= N < M, got {}:{}", o.n, o.m);
      break;
    case Method::kChannel:
      if (o.target_flops.has_value() == o.channels_fraction.has_value()) {
        return invalid_input("channel pruning needs exactly one of --target-flops F or --channels-fraction P");
      }
      if (o.target_flops && !(*o.target_flops > 0 && *o.target_flops <= 1)) return invalid_input("--target-flops must be in (0, 1], got {}", *o.target_flops);
      if (o.channels_fraction && !(*o.channels_fraction >= 0 && *o.channels_fraction < 1)) {
        return invalid_input("--channels-fraction must be in [0, 1), got {}", *o.channels_fraction);
      }
      if (o.round_to < 1) return invalid_input("--round-to must be >= 1, got {}", o.round_to);
      break;
  }
  return ok_status();
}

// Pruning float weights of a quantized model would be meaningless (its weights are integers
// behind DequantizeLinear): refuse it with the node that shows it.
Status check_float_model(const ir::Graph& g) {
  static const std::set<std::string> kQuantOps = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv",
                                                  "QLinearMatMul", "MatMulInteger", "ConvInteger", "MatMulNBits"};
  for (const auto& n : g.nodes()) {
    if (kQuantOps.count(n->op_type())) {
      return unsupported("the model is already quantized ({}); prune the float model, then quantize", n->describe());
    }
    const std::string& op = n->op_type();
    if ((op == "Conv" || op == "Gemm" || op == "MatMul") && n->input(1) && n->input(1)->initializer() &&
        n->input(1)->initializer()->dtype() != DataType::kFloat32) {
      return unsupported("{}: weight '{}' is {}, pruning needs float32 weights (a quantized or half model?)", n->describe(),
                         n->input(1)->name(), dtype_name(n->input(1)->initializer()->dtype()));
    }
  }
  return ok_status();
}

// Exporters deduplicate equal initializers behind Identity nodes (PyTorch: the zero biases of
// every fused Conv). Each reader gets its own copy, so one layer can be pruned or sliced alone.
Status own_identity_constants(ir::Graph& g) {
  std::vector<ir::Node*> ids;
  for (const auto& n : g.nodes()) {
    if (n->op_type() == "Identity" && n->domain().empty() && n->input(0) && n->input(0)->initializer()) ids.push_back(n.get());
  }
  for (ir::Node* n : ids) {
    const Tensor& src = *n->input(0)->initializer();
    PARE_ASSIGN_OR_RETURN(Tensor copy, Tensor::create(src.dtype(), src.shape()));
    std::copy_n(static_cast<const uint8_t*>(src.raw_data()), src.nbytes(), static_cast<uint8_t*>(copy.raw_data()));
    const std::string out = n->output(0)->name();
    PARE_RETURN_IF_ERROR(g.erase_node_keep_outputs(n));
    g.add_initializer(out, std::move(copy));
  }
  if (!ids.empty()) g.remove_dead_values();
  return ok_status();
}

}  // namespace

Result<std::vector<std::string>> selected_weights(const ir::Model& model, const Options& o, std::vector<std::string>* notes) {
  PARE_RETURN_IF_ERROR(validate(o));
  PARE_RETURN_IF_ERROR(check_float_model(*model.graph));
  PARE_ASSIGN_OR_RETURN(auto sel, internal::Selector::create(o));
  std::vector<std::string> names;
  std::set<std::string> seen;
  auto add = [&](ir::Value* v) {
    if (v && seen.insert(v->name()).second) names.push_back(v->name());
  };
  for (const auto& up : model.graph->nodes()) {
    Layer l;
    if (!internal::as_layer(up.get(), &l) || !sel.selected(*l.node)) continue;
    if (o.method == Method::kNM) {
      const auto lay = internal::input_layout(l);
      if (lay.k % o.m != 0) {
        if (sel.has_include()) {
          return invalid_input("{}: N:M {}:{} needs M to divide the input dimension of weight '{}' ({} = {})", l.node->describe(), o.n, o.m,
                               l.weight->name(), shape_to_string(l.weight->initializer()->shape()), lay.k);
        }
        if (notes) notes->push_back(fmt::format("{} skipped: input dimension {} is not a multiple of M = {}", l.node->describe(), lay.k, o.m));
        continue;
      }
    }
    add(l.weight);
    if (o.include_biases && o.method == Method::kMagnitude) add(l.bias);
  }
  if (names.empty()) {
    return invalid_input("no layer to prune: no Conv/Gemm/MatMul with a constant float weight matches --op-types/--include/--exclude{}",
                         o.method == Method::kNM ? " with an input dimension divisible by M" : "");
  }
  return names;
}

Result<PruneResult> prune_model(ir::Model& model, const Options& o) {
  PARE_RETURN_IF_ERROR(validate(o));
  PARE_RETURN_IF_ERROR(check_float_model(*model.graph));
  PARE_RETURN_IF_ERROR(own_identity_constants(*model.graph));
  PruneResult res;
  Report& rep = res.report;
  rep.method = o.method == Method::kMagnitude ? "magnitude" : o.method == Method::kNM ? fmt::format("nm {}:{}", o.n, o.m) : "channel";
  PARE_ASSIGN_OR_RETURN(auto before, layer_stats(model));
  std::map<std::string, std::vector<int64_t>> removed;
  std::set<std::string> pruned_weights;
  if (o.method == Method::kChannel) {
    PARE_RETURN_IF_ERROR(internal::prune_channels(model, o, removed, rep.notes));
  } else {
    PARE_ASSIGN_OR_RETURN(auto names, selected_weights(model, o, &rep.notes));
    ir::Graph& g = *model.graph;
    std::vector<std::span<float>> spans;
    for (const std::string& nm : names) {
      ir::Value* v = g.find_local_value(nm);
      Tensor t = *v->initializer();  // shares the buffer: edits below are in place
      spans.push_back(internal::float_span(t));
      pruned_weights.insert(nm);
    }
    if (o.method == Method::kMagnitude && o.threshold) {
      const float eps = static_cast<float>(*o.threshold);
      for (auto s : spans) {
        for (float& x : s) {
          if (std::abs(x) < eps) x = 0.0f;
        }
      }
    } else if (o.method == Method::kMagnitude) {
      internal::zero_smallest(spans, *o.sparsity, o.scope);
    } else {
      for (const auto& up : g.nodes()) {
        Layer l;
        if (!internal::as_layer(up.get(), &l) || !pruned_weights.count(l.weight->name())) continue;
        const auto lay = internal::input_layout(l);
        Tensor t = *l.weight->initializer();
        internal::zero_nm(internal::float_span(t), lay.outer, lay.k, lay.inner, o.n, o.m);
      }
    }
    for (size_t i = 0; i < names.size(); ++i) {
      auto& mk = res.masks[names[i]];
      mk.resize(spans[i].size());
      for (size_t j = 0; j < spans[i].size(); ++j) mk[j] = spans[i][j] != 0.0f;
    }
  }
  PARE_ASSIGN_OR_RETURN(auto after, layer_stats(model));
  merge_stats(rep, before, after);
  for (auto& l : rep.layers) {
    auto it = removed.find(l.node);
    if (it != removed.end()) l.removed_channels = it->second;
    l.pruned = !l.removed_channels.empty() || pruned_weights.count(l.weight) != 0 || l.params_after != l.params_before;
  }
  return res;
}

void apply_masks(const Masks& masks, const std::vector<std::string>& names, std::vector<Tensor>& params) {
  for (size_t i = 0; i < names.size() && i < params.size(); ++i) {
    auto it = masks.find(names[i]);
    if (it == masks.end() || params[i].dtype() != DataType::kFloat32 || static_cast<int64_t>(it->second.size()) != params[i].numel()) continue;
    float* p = params[i].data<float>();
    const uint8_t* m = it->second.data();
    for (int64_t j = 0; j < params[i].numel(); ++j) {
      if (!m[j]) p[j] = 0.0f;
    }
  }
}

}  // namespace pare::prune
