// pare inspect MODEL [--json] — opsets, inputs/outputs, op histogram, parameters, FLOPs.
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>

#include "cli/cli.h"
#include "onnx/onnx.h"
#include "passes/pass.h"

namespace pare::cli {
bool is_gguf_path(const std::string& path);  // llm_bench.cc
int llm_inspect(const std::string& path, bool json);
namespace {

// Known extents of a value's static shape, or empty if any is unknown.
std::vector<int64_t> static_shape(const ir::Value* v) {
  if (!v || v->type().kind != ir::TypeInfo::Kind::kTensor || !v->type().shape) return {};
  std::vector<int64_t> s;
  for (const auto& d : *v->type().shape) {
    if (!d.known()) return {};
    s.push_back(d.value);
  }
  return s;
}

int64_t prod(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Multiply-accumulate-heavy ops count 2 FLOPs per MAC from their static shapes; other ops
// are not counted (they are memory-bound). Unknown shapes count 0 (reported as a lower bound).
int64_t node_flops(const ir::Node& n) {
  const std::string& op = n.op_type();
  auto out = static_shape(n.output(0));
  if (out.empty()) return 0;
  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") {
    auto w = static_shape(n.input(op == "QLinearConv" ? 3 : 1));
    if (w.size() < 3) return 0;
    int64_t k = prod(std::vector<int64_t>(w.begin() + 1, w.end()));  // Cin/group × kernel
    return 2 * prod(out) * k;
  }
  if (op == "ConvTranspose") {
    auto x = static_shape(n.input(0));
    auto w = static_shape(n.input(1));
    if (x.size() < 3 || w.size() < 3) return 0;
    return 2 * prod(x) * prod(std::vector<int64_t>(w.begin() + 1, w.end()));
  }
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul" || op == "Gemm") {
    auto a = static_shape(n.input(0));
    if (a.empty()) return 0;
    int64_t k = (op == "Gemm" && n.attr_int("transA", 0)) ? a[0] : a.back();
    return 2 * prod(out) * k;
  }
  return 0;
}

void walk(const ir::Graph& g, std::map<std::string, int64_t>& hist, int64_t& flops, int64_t& params, int64_t& bytes) {
  for (const ir::Value* v : g.initializers()) {
    params += v->initializer()->numel();
    bytes += static_cast<int64_t>(v->initializer()->nbytes());
  }
  for (const auto& n : g.nodes()) {
    hist[(n->domain().empty() ? "" : n->domain() + ".") + n->op_type()]++;
    flops += node_flops(*n);
    for (const ir::Graph* sg : n->subgraphs()) walk(*sg, hist, flops, params, bytes);
  }
}

}  // namespace

void add_inspect(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("inspect", "Show opsets, inputs/outputs, op histogram, parameters and estimated FLOPs");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("MODEL", *path, "ONNX model file")->required();
  cmd->add_flag("--json", *json, "print one JSON object instead of text");
  cmd->callback([path, json, &rc] {
    if (is_gguf_path(*path)) return void(rc = llm_inspect(*path, *json));
    auto m = onnx::load_model(*path);
    if (!m.ok()) {
      rc = report(m.status());
      return;
    }
    auto inferred = passes::infer_shapes(**m);
    (void)inferred;
    const ir::Model& model = **m;
    std::map<std::string, int64_t> hist;
    int64_t flops = 0, params = 0, bytes = 0;
    walk(*model.graph, hist, flops, params, bytes);
    nlohmann::json j;
    j["path"] = *path;
    j["ir_version"] = model.ir_version;
    j["producer"] = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
    for (const auto& o : model.opsets) j["opsets"][o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
    auto io = [](const ir::Value* v) {
      nlohmann::json e = {{"name", v->name()}, {"type", v->type().to_string()}};
      e["dtype"] = dtype_name(v->type().dtype);
      nlohmann::json shape = nlohmann::json::array();
      if (v->type().shape) {
        for (const auto& d : *v->type().shape) {
          if (d.known()) shape.push_back(d.value);
          else shape.push_back(d.symbol.empty() ? "?" : d.symbol);
        }
        e["shape"] = shape;
      }
      return e;
    };
    j["inputs"] = nlohmann::json::array();
    j["outputs"] = nlohmann::json::array();
    for (const ir::Value* v : model.graph->inputs()) j["inputs"].push_back(io(v));
    for (const ir::Value* v : model.graph->outputs()) j["outputs"].push_back(io(v));
    j["ops"] = hist;
    int64_t total_nodes = 0;
    for (const auto& [k, v] : hist) total_nodes += v;
    j["nodes"] = total_nodes;
    j["parameters"] = params;
    j["parameter_bytes"] = bytes;
    j["flops"] = flops;
    if (*json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << "model      " << *path << "\n";
    std::cout << "producer   " << j["producer"].get<std::string>() << ", ir_version " << model.ir_version << "\n";
    std::cout << "opsets    ";
    for (const auto& o : model.opsets) std::cout << " " << (o.domain.empty() ? "ai.onnx" : o.domain) << ":" << o.version;
    std::cout << "\ninputs\n";
    for (const ir::Value* v : model.graph->inputs()) std::cout << "  " << v->name() << ": " << v->type().to_string() << "\n";
    std::cout << "outputs\n";
    for (const ir::Value* v : model.graph->outputs()) std::cout << "  " << v->name() << ": " << v->type().to_string() << "\n";
    std::cout << fmt::format("parameters {} ({:.2f} MB)\n", params, bytes / 1e6);
    std::cout << fmt::format("FLOPs      {:.3g} (Conv/MatMul/Gemm at static shapes)\n", static_cast<double>(flops));
    std::cout << "ops        " << total_nodes << " nodes\n";
    std::vector<std::pair<int64_t, std::string>> sorted;
    for (const auto& [k, v] : hist) sorted.emplace_back(-v, k);
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [c, k] : sorted) std::cout << fmt::format("  {:<28} {}\n", k, -c);
  });
}

}  // namespace pare::cli
