// Per-layer parameters, nonzeros and FLOPs (2·MACs at batch 1, from inferred shapes), and
// the pruning report as JSON and as a table.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "compress/prune/internal.h"
#include "passes/pass.h"
#include "train/training_graph.h"

namespace pare::prune {
namespace {

int64_t nonzeros(const Tensor& t) {
  const float* p = t.data<float>();
  return static_cast<int64_t>(t.numel() - std::count(p, p + t.numel(), 0.0f));
}

int64_t known_numel(const ir::Value* v) {
  if (!v || v->type().kind != ir::TypeInfo::Kind::kTensor || !v->type().shape) return -1;
  int64_t n = 1;
  for (const auto& d : *v->type().shape) {
    if (!d.known()) return -1;
    n *= d.value;
  }
  return n;
}

}  // namespace

Result<std::vector<LayerStats>> layer_stats(const ir::Model& model) {
  PARE_ASSIGN_OR_RETURN(auto m, train::clone_model(model));
  ir::Graph& g = *m->graph;
  // Batch 1: every unknown extent of a data input is taken as 1.
  for (ir::Value* in : g.inputs()) {
    if (in->initializer() || !in->type().shape) continue;
    for (auto& d : *in->type().shape) {
      if (!d.known()) d = ir::Dim::of(1);
    }
  }
  PARE_RETURN_IF_ERROR(passes::infer_shapes(*m).status());
  std::vector<LayerStats> out;
  for (const auto& up : g.nodes()) {
    internal::Layer l;
    if (!internal::as_layer(up.get(), &l)) continue;
    LayerStats s;
    s.node = l.node->name();
    s.op = l.node->op_type();
    s.weight = l.weight->name();
    const Tensor& w = *l.weight->initializer();
    s.params_before = s.params_after = w.numel() + (l.bias ? l.bias->initializer()->numel() : 0);
    s.nonzero_before = s.nonzero_after = nonzeros(w) + (l.bias ? nonzeros(*l.bias->initializer()) : 0);
    int64_t per_out = 0;  // MACs per output element
    if (s.op == "Conv") {
      per_out = w.numel() / w.dim(0);
      s.channels_before = w.dim(0);
    } else if (s.op == "Gemm" && l.node->attr_int("transB", 0) != 0) {
      per_out = w.dim(1);
      s.channels_before = w.dim(0);
    } else {
      per_out = w.dim(0);
      s.channels_before = w.dim(1);
    }
    s.channels_after = s.channels_before;
    const int64_t outs = known_numel(l.node->output(0));
    s.flops_before = s.flops_after = outs > 0 ? 2 * outs * per_out : 0;
    out.push_back(std::move(s));
  }
  return out;
}

void merge_stats(Report& rep, const std::vector<LayerStats>& before, const std::vector<LayerStats>& after) {
  std::map<std::string, const LayerStats*> by_name;
  for (const auto& a : after) by_name[a.node] = &a;
  rep.layers.clear();
  rep.params_before = rep.params_after = rep.nonzero_before = rep.nonzero_after = rep.flops_before = rep.flops_after = 0;
  for (const auto& b : before) {
    LayerStats s = b;
    auto it = by_name.find(b.node);
    if (it != by_name.end()) {
      s.params_after = it->second->params_before;
      s.nonzero_after = it->second->nonzero_before;
      s.flops_after = it->second->flops_before;
      s.channels_after = it->second->channels_before;
    } else {
      s.params_after = s.nonzero_after = s.flops_after = s.channels_after = 0;
    }
    rep.params_before += s.params_before;
    rep.params_after += s.params_after;
    rep.nonzero_before += s.nonzero_before;
    rep.nonzero_after += s.nonzero_after;
    rep.flops_before += s.flops_before;
    rep.flops_after += s.flops_after;
    rep.layers.push_back(std::move(s));
  }
}

std::string report_json(const Report& r) {
  nlohmann::ordered_json j;
  j["method"] = r.method;
  auto layers = nlohmann::ordered_json::array();
  for (const auto& l : r.layers) {
    nlohmann::ordered_json e;
    e["node"] = l.node;
    e["op"] = l.op;
    e["weight"] = l.weight;
    e["pruned"] = l.pruned;
    e["params_before"] = l.params_before;
    e["params_after"] = l.params_after;
    e["nonzero_before"] = l.nonzero_before;
    e["nonzero_after"] = l.nonzero_after;
    e["sparsity_before"] = l.params_before ? 1.0 - static_cast<double>(l.nonzero_before) / l.params_before : 0.0;
    e["sparsity_after"] = l.params_after ? 1.0 - static_cast<double>(l.nonzero_after) / l.params_after : 0.0;
    e["flops_before"] = l.flops_before;
    e["flops_after"] = l.flops_after;
    e["channels_before"] = l.channels_before;
    e["channels_after"] = l.channels_after;
    e["removed_channels"] = l.removed_channels;
    layers.push_back(std::move(e));
  }
  j["layers"] = std::move(layers);
  nlohmann::ordered_json t;
  t["params_before"] = r.params_before;
  t["params_after"] = r.params_after;
  t["nonzero_before"] = r.nonzero_before;
  t["nonzero_after"] = r.nonzero_after;
  t["sparsity_after"] = r.params_after ? 1.0 - static_cast<double>(r.nonzero_after) / r.params_after : 0.0;
  t["flops_before"] = r.flops_before;
  t["flops_after"] = r.flops_after;
  t["flops_fraction"] = r.flops_before ? static_cast<double>(r.flops_after) / r.flops_before : 1.0;
  if (r.bytes_before >= 0) t["bytes_before"] = r.bytes_before;
  if (r.bytes_after >= 0) t["bytes_after"] = r.bytes_after;
  j["totals"] = std::move(t);
  if (r.accuracy_before >= 0) j["accuracy_before"] = r.accuracy_before;
  if (r.accuracy_after >= 0) j["accuracy_after"] = r.accuracy_after;
  if (r.finetune_seconds >= 0) j["finetune_seconds"] = r.finetune_seconds;
  j["notes"] = r.notes;
  return j.dump(2) + "\n";
}

std::string report_table(const Report& r) {
  std::string s = fmt::format("{:<40} {:>7} {:>11} {:>11} {:>9} {:>9} {:>12} {:>12}\n", "layer", "op", "params", "→ after",
                              "sparsity", "channels", "MFLOPs", "→ after");
  auto mf = [](int64_t f) { return fmt::format("{:.3f}", static_cast<double>(f) / 1e6); };
  for (const auto& l : r.layers) {
    std::string name = l.node.size() > 40 ? "…" + l.node.substr(l.node.size() - 39) : l.node;
    const double sp = l.params_after ? 1.0 - static_cast<double>(l.nonzero_after) / l.params_after : 0.0;
    s += fmt::format("{:<40} {:>7} {:>11} {:>11} {:>8.1f}% {:>9} {:>12} {:>12}\n", name, l.op, l.params_before, l.params_after, 100 * sp,
                     fmt::format("{}→{}", l.channels_before, l.channels_after), mf(l.flops_before), mf(l.flops_after));
  }
  const double sp = r.params_after ? 1.0 - static_cast<double>(r.nonzero_after) / r.params_after : 0.0;
  s += fmt::format("{:<40} {:>7} {:>11} {:>11} {:>8.1f}% {:>9} {:>12} {:>12}\n", "total", "", r.params_before, r.params_after, 100 * sp, "",
                   mf(r.flops_before), mf(r.flops_after));
  s += fmt::format("FLOPs kept {:.1f}%, nonzero parameters kept {:.1f}%\n",
                   r.flops_before ? 100.0 * r.flops_after / r.flops_before : 100.0,
                   r.nonzero_before ? 100.0 * r.nonzero_after / r.nonzero_before : 100.0);
  if (r.accuracy_before >= 0 || r.accuracy_after >= 0) {
    s += fmt::format("accuracy before {}  after {}\n", r.accuracy_before >= 0 ? fmt::format("{:.2f}%", 100 * r.accuracy_before) : "-",
                     r.accuracy_after >= 0 ? fmt::format("{:.2f}%", 100 * r.accuracy_after) : "-");
  }
  for (const auto& n : r.notes) s += "note: " + n + "\n";
  return s;
}

}  // namespace pare::prune
