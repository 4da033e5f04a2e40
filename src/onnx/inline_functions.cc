#include "onnx/inline_functions.h"

#include <map>
#include <set>

namespace pare::onnx {
namespace {

using FunctionKey = std::pair<std::string, std::string>;  // (domain, name)

class Inliner {
 public:
  explicit Inliner(const ::onnx::ModelProto& m) {
    for (const auto& f : m.functions()) functions_[{f.domain(), f.name()}] = &f;
  }

  Status graph(::onnx::GraphProto* g, int depth) {
    if (depth > 32) return invalid_model("model-local functions nest more than 32 calls deep (recursive?)");
    ::google::protobuf::RepeatedPtrField<::onnx::NodeProto> out;
    for (auto& n : *g->mutable_node()) {
      for (auto& a : *n.mutable_attribute()) {
        if (a.has_g()) PARE_RETURN_IF_ERROR(graph(a.mutable_g(), depth));
        for (auto& sg : *a.mutable_graphs()) PARE_RETURN_IF_ERROR(graph(&sg, depth));
      }
      auto it = functions_.find({n.domain(), n.op_type()});
      if (it == functions_.end()) {
        *out.Add() = n;
        continue;
      }
      std::vector<::onnx::NodeProto> body;
      PARE_RETURN_IF_ERROR(expand(n, *it->second, body, depth));
      for (auto& b : body) *out.Add() = std::move(b);
    }
    g->mutable_node()->Swap(&out);
    return ok_status();
  }

 private:
  Status expand(const ::onnx::NodeProto& call, const ::onnx::FunctionProto& f,
                std::vector<::onnx::NodeProto>& out, int depth) {
    const std::string prefix = "__" + f.name() + "_" + std::to_string(counter_++) + "/";
    std::map<std::string, std::string> rename;
    for (int i = 0; i < f.input_size(); ++i) rename[f.input(i)] = i < call.input_size() ? call.input(i) : "";
    for (int i = 0; i < f.output_size(); ++i) rename[f.output(i)] = i < call.output_size() ? call.output(i) : "";
    std::map<std::string, const ::onnx::AttributeProto*> attrs;
    for (const auto& a : call.attribute()) attrs[a.name()] = &a;
    auto map_name = [&](const std::string& v) -> std::string {
      if (v.empty()) return v;
      auto it = rename.find(v);
      if (it != rename.end()) return it->second;
      return rename[v] = prefix + v;
    };
    ::onnx::GraphProto body;
    for (const auto& fn : f.node()) {
      ::onnx::NodeProto n = fn;
      n.set_name(prefix + fn.name());
      for (auto& v : *n.mutable_input()) v = map_name(v);
      for (auto& v : *n.mutable_output()) v = map_name(v);
      ::google::protobuf::RepeatedPtrField<::onnx::AttributeProto> resolved;
      for (const auto& a : n.attribute()) {
        if (a.ref_attr_name().empty()) {
          *resolved.Add() = a;
          continue;
        }
        auto it = attrs.find(a.ref_attr_name());
        if (it == attrs.end()) continue;  // unset optional attribute: the op's default applies
        ::onnx::AttributeProto r = *it->second;
        r.set_name(a.name());
        *resolved.Add() = r;
      }
      n.mutable_attribute()->Swap(&resolved);
      *body.add_node() = std::move(n);
    }
    // Nested calls inside the body.
    PARE_RETURN_IF_ERROR(graph(&body, depth + 1));
    for (auto& n : *body.mutable_node()) out.push_back(std::move(n));
    return ok_status();
  }

  std::map<FunctionKey, const ::onnx::FunctionProto*> functions_;
  int counter_ = 0;
};

}  // namespace

Status inline_local_functions(::onnx::ModelProto& model) {
  if (model.functions_size() == 0) return ok_status();
  Inliner inl(model);
  PARE_RETURN_IF_ERROR(inl.graph(model.mutable_graph(), 0));
  // Opsets the functions import become the model's (the body's ops need them).
  std::set<std::string> have;
  for (const auto& o : model.opset_import()) have.insert(o.domain());
  for (const auto& f : model.functions()) {
    for (const auto& o : f.opset_import()) {
      if (!have.count(o.domain())) {
        *model.add_opset_import() = o;
        have.insert(o.domain());
      }
    }
  }
  model.clear_functions();
  return ok_status();
}

}  // namespace pare::onnx
