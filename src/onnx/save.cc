// ir::Model → ModelProto, and single-tensor .pb files.
#include <onnx/onnx-data_pb.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "onnx/onnx.h"
#include "onnx/tensor_proto.h"

namespace pare::onnx {
namespace {

struct ExternalWriter {
  std::ofstream out;
  std::string location;  // relative to the model's folder
  uint64_t offset = 0;
};

void value_info(const ir::Value& v, ::onnx::ValueInfoProto* vi) {
  vi->set_name(v.name());
  if (v.type().kind != ir::TypeInfo::Kind::kUnknown) type_to_proto(v.type(), vi->mutable_type());
}

class Writer {
 public:
  Writer(const SaveOptions& o, ExternalWriter* ext) : options_(o), ext_(ext) {}

  Status tensor(const Tensor& t, const std::string& name, ::onnx::TensorProto* p) {
    p->set_name(name);
    if (ext_ && t.dtype() != DataType::kString && t.nbytes() >= options_.external_threshold) {
      p->set_data_type(static_cast<int32_t>(t.dtype()));
      for (int64_t d : t.shape()) p->add_dims(d);
      // Align each tensor to 64 bytes so loaders can map it in place.
      uint64_t pad = (64 - ext_->offset % 64) % 64;
      static const char zeros[64] = {};
      ext_->out.write(zeros, static_cast<std::streamsize>(pad));
      ext_->offset += pad;
      ext_->out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
      if (!ext_->out) return io_error("cannot write external data '{}'", ext_->location);
      p->set_data_location(::onnx::TensorProto::EXTERNAL);
      auto add = [&](const char* k, const std::string& v) {
        auto* e = p->add_external_data();
        e->set_key(k);
        e->set_value(v);
      };
      add("location", ext_->location);
      add("offset", std::to_string(ext_->offset));
      add("length", std::to_string(t.nbytes()));
      ext_->offset += t.nbytes();
      return ok_status();
    }
    tensor_to_proto(t, p);
    return ok_status();
  }

  Status graph(const ir::Graph& g, ::onnx::GraphProto* gp) {
    gp->set_name(g.name());
    for (const ir::Value* v : g.inputs()) value_info(*v, gp->add_input());
    for (const ir::Value* v : g.initializers()) {
      const Tensor& t = *v->initializer();
      if (stores_as_sparse(t, options_)) {
        PARE_ASSIGN_OR_RETURN(auto enc, sparse_encode(t));
        auto* sp = gp->add_sparse_initializer();
        for (int64_t d : t.shape()) sp->add_dims(d);
        PARE_RETURN_IF_ERROR(tensor(enc.first, v->name(), sp->mutable_values()));
        PARE_RETURN_IF_ERROR(tensor(enc.second, v->name() + "_indices", sp->mutable_indices()));
        continue;
      }
      PARE_RETURN_IF_ERROR(tensor(t, v->name(), gp->add_initializer()));
    }
    PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
    for (const ir::Node* n : order) {
      auto* np = gp->add_node();
      np->set_name(n->name());
      np->set_op_type(n->op_type());
      if (!n->domain().empty()) np->set_domain(n->domain());
      for (const ir::Value* v : n->inputs()) np->add_input(v ? v->name() : "");
      for (const ir::Value* v : n->outputs()) {
        np->add_output(v ? v->name() : "");
        if (v && v->type().kind != ir::TypeInfo::Kind::kUnknown) value_info(*v, gp->add_value_info());
      }
      for (const auto& [name, a] : n->attributes()) PARE_RETURN_IF_ERROR(attribute(name, a, np->add_attribute()));
    }
    for (const ir::Value* v : g.outputs()) value_info(*v, gp->add_output());
    return ok_status();
  }

 private:
  Status attribute(const std::string& name, const ir::Attribute& a, ::onnx::AttributeProto* ap) {
    using AP = ::onnx::AttributeProto;
    ap->set_name(name);
    switch (a.type) {
      case ir::AttrType::kFloat: ap->set_type(AP::FLOAT); ap->set_f(a.f); break;
      case ir::AttrType::kInt: ap->set_type(AP::INT); ap->set_i(a.i); break;
      case ir::AttrType::kString: ap->set_type(AP::STRING); ap->set_s(a.s); break;
      case ir::AttrType::kTensor: ap->set_type(AP::TENSOR); tensor_to_proto(a.t, ap->mutable_t()); break;
      case ir::AttrType::kGraph: ap->set_type(AP::GRAPH); PARE_RETURN_IF_ERROR(graph(*a.g, ap->mutable_g())); break;
      case ir::AttrType::kFloats: ap->set_type(AP::FLOATS); for (float f : a.floats) ap->add_floats(f); break;
      case ir::AttrType::kInts: ap->set_type(AP::INTS); for (int64_t i : a.ints) ap->add_ints(i); break;
      case ir::AttrType::kStrings: ap->set_type(AP::STRINGS); for (const auto& s : a.strings) ap->add_strings(s); break;
      case ir::AttrType::kTensors:
        ap->set_type(AP::TENSORS);
        for (const auto& t : a.tensors) tensor_to_proto(t, ap->add_tensors());
        break;
      case ir::AttrType::kGraphs:
        ap->set_type(AP::GRAPHS);
        for (const auto& g : a.graphs) PARE_RETURN_IF_ERROR(graph(*g, ap->add_graphs()));
        break;
      case ir::AttrType::kTypeProto: ap->set_type(AP::TYPE_PROTO); type_to_proto(a.type_proto, ap->mutable_tp()); break;
      default: return unsupported("attribute '{}' of this type cannot be saved", name);
    }
    return ok_status();
  }

  SaveOptions options_;
  ExternalWriter* ext_;
};

}  // namespace

Status save_model(const ir::Model& model, const std::string& path, const SaveOptions& options) {
  namespace fs = std::filesystem;
  ::onnx::ModelProto mp;
  mp.set_ir_version(model.ir_version > 0 ? model.ir_version : 8);
  mp.set_producer_name(model.producer_name.empty() ? "pare" : model.producer_name);
  mp.set_producer_version(model.producer_version);
  if (!model.domain.empty()) mp.set_domain(model.domain);
  mp.set_model_version(model.model_version);
  if (!model.doc_string.empty()) mp.set_doc_string(model.doc_string);
  for (const auto& o : model.opsets) {
    auto* op = mp.add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  for (const auto& [k, v] : model.metadata) {
    auto* e = mp.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  ExternalWriter ext;
  // Write to temporary files and rename, so a failed save never leaves a half-written model
  // in place of a good one.
  const std::string tmp = path + ".tmp";
  std::string ext_tmp;
  if (options.external_data) {
    ext.location = fs::path(path).filename().string() + ".data";
    ext_tmp = (fs::path(path).parent_path() / (ext.location + ".tmp")).string();
    ext.out.open(ext_tmp, std::ios::binary | std::ios::trunc);
    if (!ext.out) return io_error("cannot create '{}'", ext_tmp);
  }
  Writer w(options, options.external_data ? &ext : nullptr);
  Status st = w.graph(*model.graph, mp.mutable_graph());
  if (options.external_data) {
    ext.out.close();
    if (!st.ok() || !ext.out) {
      fs::remove(ext_tmp);
      return st.ok() ? io_error("cannot write '{}'", ext_tmp) : st;
    }
  }
  PARE_RETURN_IF_ERROR(st);
  if (mp.ByteSizeLong() > static_cast<size_t>(INT32_MAX)) {
    if (!ext_tmp.empty()) fs::remove(ext_tmp);
    return resource_exhausted("model is over 2 GB: save it with external data");
  }
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !mp.SerializeToOstream(&out)) {
      fs::remove(tmp);
      return io_error("cannot write '{}'", tmp);
    }
  }
  std::error_code ec;
  if (options.external_data) {
    fs::rename(ext_tmp, fs::path(path).parent_path() / ext.location, ec);
    if (ec) return io_error("cannot rename external data into place: {}", ec.message());
  }
  fs::rename(tmp, path, ec);
  if (ec) return io_error("cannot rename '{}' to '{}': {}", tmp, path, ec.message());
  return ok_status();
}

Result<Tensor> load_tensor_pb(const std::string& path) {
  PARE_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  ::onnx::TensorProto p;
  if (file->size() > INT32_MAX || !p.ParseFromArray(file->data(), static_cast<int>(file->size()))) {
    return invalid_input("{}: not a serialized ONNX TensorProto", path);
  }
  std::error_code ec;
  return tensor_from_proto(p, std::filesystem::absolute(path, ec).parent_path().string());
}

Status save_tensor_pb(const Tensor& t, const std::string& name, const std::string& path) {
  ::onnx::TensorProto p;
  tensor_to_proto(t, &p);
  p.set_name(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !p.SerializeToOstream(&out)) return io_error("cannot write '{}'", path);
  return ok_status();
}

Result<RunValue> load_value_pb(const std::string& path, bool is_sequence, bool is_optional) {
  PARE_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  if (file->size() > INT32_MAX) return invalid_input("{}: too large", path);
  const int size = static_cast<int>(file->size());
  if (is_optional) {
    ::onnx::OptionalProto op;
    if (!op.ParseFromArray(file->data(), size)) return invalid_input("{}: not an OptionalProto", path);
    if (op.has_tensor_value()) {
      PARE_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(op.tensor_value(), ""));
      return RunValue(std::move(t));
    }
    if (op.has_sequence_value()) {
      std::vector<Tensor> items;
      for (const auto& tp : op.sequence_value().tensor_values()) {
        PARE_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, ""));
        items.push_back(std::move(t));
      }
      DataType dt = items.empty() ? DataType::kUndefined : items[0].dtype();
      return RunValue::make_sequence(std::move(items), dt);
    }
    return RunValue();
  }
  if (is_sequence) {
    ::onnx::SequenceProto sp;
    if (!sp.ParseFromArray(file->data(), size)) return invalid_input("{}: not a SequenceProto", path);
    std::vector<Tensor> items;
    DataType dt = DataType::kUndefined;
    for (const auto& tp : sp.tensor_values()) {
      PARE_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, ""));
      dt = t.dtype();
      items.push_back(std::move(t));
    }
    return RunValue::make_sequence(std::move(items), dt);
  }
  PARE_ASSIGN_OR_RETURN(Tensor t, load_tensor_pb(path));
  return RunValue(std::move(t));
}

}  // namespace pare::onnx
