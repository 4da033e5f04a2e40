// ModelProto → ir::Model. Two passes per graph: first every node output becomes a Value (so
// out-of-order nodes and subgraphs that capture later outer values resolve), then inputs and
// attributes are bound. Names resolve through enclosing graphs (outer-scope capture).
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "onnx/inline_functions.h"
#include "onnx/onnx.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "onnx/tensor_proto.h"

namespace pare::onnx {
namespace {

class Converter {
 public:
  explicit Converter(std::string base_dir) : base_dir_(std::move(base_dir)) {}

  Status convert_graph(const ::onnx::GraphProto& gp, ir::Graph& g, int depth) {
    if (depth > 64) return invalid_model("subgraphs nested more than 64 deep");
    g.set_name(gp.name());
    // Initializers first: a graph input of the same name is then just its default value.
    for (const auto& tp : gp.initializer()) {
      if (tp.name().empty()) return invalid_model("graph '{}' has an initializer without a name", gp.name());
      if (g.find_local_value(tp.name()) && g.find_local_value(tp.name())->initializer()) {
        return invalid_model("graph '{}': initializer '{}' is defined twice", gp.name(), tp.name());
      }
      auto t = tensor_from_proto(tp, base_dir_);
      if (!t.ok()) return t.status();
      g.add_initializer(tp.name(), std::move(t).value());
      // The proto's copy of the data is no longer needed: freeing it now keeps the load's
      // peak memory near one copy of the weights, not two. (The converter owns the parsed
      // ModelProto; only its bytes are released, the name stays.)
      auto& owned = const_cast<::onnx::TensorProto&>(tp);
      std::string().swap(*owned.mutable_raw_data());
      owned.clear_float_data();
      owned.clear_int32_data();
      owned.clear_int64_data();
      owned.clear_double_data();
    }
    for (const auto& sp : gp.sparse_initializer()) {
      auto t = tensor_from_sparse_proto(sp, base_dir_);
      if (!t.ok()) return t.status();
      const std::string& name = sp.values().name();
      if (g.find_local_value(name) && g.find_local_value(name)->initializer()) {
        return invalid_model("graph '{}': initializer '{}' is defined twice", gp.name(), name);
      }
      g.add_initializer(name, std::move(t).value());
    }
    for (const auto& vi : gp.input()) {
      if (vi.name().empty()) return invalid_model("graph '{}' has an input without a name", gp.name());
      ir::Value* v = g.find_local_value(vi.name());
      if (v && v->initializer()) continue;  // an initializer with a declared input: a constant
      if (v) return invalid_model("graph '{}': input '{}' is declared twice", gp.name(), vi.name());
      v = g.add_value(vi.name());
      v->type() = type_from_proto(vi.type());
      g.add_input(v);
    }
    // Pass 1: outputs of every node.
    std::vector<ir::Node*> nodes;
    for (const auto& np : gp.node()) {
      std::vector<ir::Value*> outs;
      for (const auto& name : np.output()) {
        if (name.empty()) {
          outs.push_back(nullptr);
          continue;
        }
        if (g.find_local_value(name)) {
          return invalid_model("value '{}' is produced twice (second by node '{}' ({}))", name,
                               np.name(), np.op_type());
        }
        outs.push_back(g.add_value(name));
      }
      nodes.push_back(g.add_node(np.op_type(), {}, outs, np.domain(), np.name()));
    }
    // Types from value_info and outputs.
    auto apply_type = [&](const ::onnx::ValueInfoProto& vi) {
      if (ir::Value* v = g.find_local_value(vi.name()); v && !v->initializer()) {
        ir::TypeInfo t = type_from_proto(vi.type());
        if (t.kind != ir::TypeInfo::Kind::kUnknown) v->type() = t;
      }
    };
    for (const auto& vi : gp.value_info()) apply_type(vi);
    for (const auto& vi : gp.output()) apply_type(vi);
    // Pass 2: inputs and attributes.
    for (int i = 0; i < gp.node_size(); ++i) {
      const auto& np = gp.node(i);
      ir::Node* n = nodes[i];
      for (const auto& name : np.input()) {
        if (name.empty()) {
          n->add_input(nullptr);
          continue;
        }
        ir::Value* v = g.find_value(name);
        if (v == nullptr) {
          return invalid_model("{}: input '{}' is not a graph input, initializer or node output",
                               n->describe(), name);
        }
        n->add_input(v);
      }
      for (const auto& ap : np.attribute()) {
        PARE_RETURN_IF_ERROR(convert_attribute(ap, *n, g, depth));
      }
    }
    for (const auto& vi : gp.output()) {
      ir::Value* v = g.find_value(vi.name());
      if (v == nullptr) return invalid_model("graph '{}': output '{}' is never produced", gp.name(), vi.name());
      g.outputs().push_back(v);
    }
    return ok_status();
  }

 private:
  Status convert_attribute(const ::onnx::AttributeProto& ap, ir::Node& n, ir::Graph& g, int depth) {
    if (ap.name().empty()) return invalid_model("{} has an attribute without a name", n.describe());
    if (!ap.ref_attr_name().empty()) {
      return invalid_model("{}: attribute '{}' refers to '{}' outside a function", n.describe(),
                           ap.name(), ap.ref_attr_name());
    }
    ir::Attribute a;
    auto subgraph = [&](const ::onnx::GraphProto& sp) -> Result<std::unique_ptr<ir::Graph>> {
      auto sg = std::make_unique<ir::Graph>(&g);
      PARE_RETURN_IF_ERROR(convert_graph(sp, *sg, depth + 1).with_context(
          n.describe() + " attribute '" + ap.name() + "'"));
      return sg;
    };
    using AP = ::onnx::AttributeProto;
    switch (ap.type()) {
      case AP::FLOAT: a.type = ir::AttrType::kFloat; a.f = ap.f(); break;
      case AP::INT: a.type = ir::AttrType::kInt; a.i = ap.i(); break;
      case AP::STRING: a.type = ir::AttrType::kString; a.s = ap.s(); break;
      case AP::TENSOR: {
        a.type = ir::AttrType::kTensor;
        auto t = tensor_from_proto(ap.t(), base_dir_);
        if (!t.ok()) return t.status().with_context(n.describe() + " attribute '" + ap.name() + "'");
        a.t = std::move(t).value();
        break;
      }
      case AP::GRAPH: {
        a.type = ir::AttrType::kGraph;
        PARE_ASSIGN_OR_RETURN(a.g, subgraph(ap.g()));
        break;
      }
      case AP::FLOATS: a.type = ir::AttrType::kFloats; a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
      case AP::INTS: a.type = ir::AttrType::kInts; a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
      case AP::STRINGS: a.type = ir::AttrType::kStrings; a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
      case AP::TENSORS:
        a.type = ir::AttrType::kTensors;
        for (const auto& tp : ap.tensors()) {
          auto t = tensor_from_proto(tp, base_dir_);
          if (!t.ok()) return t.status().with_context(n.describe() + " attribute '" + ap.name() + "'");
          a.tensors.push_back(std::move(t).value());
        }
        break;
      case AP::GRAPHS:
        a.type = ir::AttrType::kGraphs;
        for (const auto& sp : ap.graphs()) {
          PARE_ASSIGN_OR_RETURN(auto sg, subgraph(sp));
          a.graphs.push_back(std::move(sg));
        }
        break;
      case AP::TYPE_PROTO: a.type = ir::AttrType::kTypeProto; a.type_proto = type_from_proto(ap.tp()); break;
      case AP::SPARSE_TENSOR: case AP::SPARSE_TENSORS:
        return unsupported("{}: sparse tensor attribute '{}' is not supported", n.describe(), ap.name());
      default:
        // Old writers omit the type: infer it from the populated field.
        if (ap.has_f()) { a.type = ir::AttrType::kFloat; a.f = ap.f(); }
        else if (ap.has_i()) { a.type = ir::AttrType::kInt; a.i = ap.i(); }
        else if (ap.has_s()) { a.type = ir::AttrType::kString; a.s = ap.s(); }
        else if (ap.ints_size()) { a.type = ir::AttrType::kInts; a.ints.assign(ap.ints().begin(), ap.ints().end()); }
        else if (ap.floats_size()) { a.type = ir::AttrType::kFloats; a.floats.assign(ap.floats().begin(), ap.floats().end()); }
        else return invalid_model("{}: attribute '{}' has unknown type {}", n.describe(), ap.name(), static_cast<int>(ap.type()));
    }
    n.attributes()[ap.name()] = std::move(a);
    return ok_status();
  }

  std::string base_dir_;
};

Result<std::unique_ptr<ir::Model>> convert_model(::onnx::ModelProto& mp, const std::string& base_dir,
                                                 const LoadOptions& options) {
  if (!mp.has_graph()) return invalid_model("not a valid ONNX model: it has no graph (wrong file type?)");
  if (mp.opset_import_size() == 0 && mp.ir_version() >= 3) {
    return invalid_model("model imports no opset");
  }
  PARE_RETURN_IF_ERROR(inline_local_functions(mp));
  if (options.onnx_shape_inference) {
    try {
      ::onnx::ShapeInferenceOptions opts{/*check_type=*/false,
                                         /*error_mode=*/options.strict_shape_inference ? 1 : 0,
                                         /*enable_data_propagation=*/true};
      ::onnx::shape_inference::InferShapes(mp, ::onnx::OpSchemaRegistry::Instance(), opts);
    } catch (const std::exception& e) {
      if (options.strict_shape_inference) return invalid_model("shape inference failed: {}", e.what());
    }
  }
  auto model = std::make_unique<ir::Model>();
  model->ir_version = mp.ir_version();
  model->producer_name = mp.producer_name();
  model->producer_version = mp.producer_version();
  model->domain = mp.domain();
  model->doc_string = mp.doc_string();
  model->model_version = mp.model_version();
  model->base_dir = base_dir;
  for (const auto& o : mp.opset_import()) {
    if (o.version() < 1) return invalid_model("opset import of domain '{}' has version {}", o.domain(), o.version());
    model->opsets.push_back({o.domain(), o.version()});
  }
  if (mp.opset_import_size() == 0) model->opsets.push_back({"", 1});
  for (const auto& kv : mp.metadata_props()) model->metadata.emplace_back(kv.key(), kv.value());
  Converter conv(base_dir);
  PARE_RETURN_IF_ERROR(conv.convert_graph(mp.graph(), *model->graph, 0));
  PARE_RETURN_IF_ERROR(model->graph->verify());
  return model;
}

Result<std::unique_ptr<ir::Model>> parse_and_convert(const void* data, size_t size,
                                                    const std::string& base_dir,
                                                    const LoadOptions& options) {
  if (size > static_cast<size_t>(INT_MAX)) {
    return invalid_model("model protobuf is {} bytes; over 2 GB must use external data", size);
  }
  ::onnx::ModelProto mp;
  if (!mp.ParseFromArray(data, static_cast<int>(size))) {
    return invalid_model("not a valid ONNX model (protobuf parse failed: truncated or wrong format)");
  }
  return convert_model(mp, base_dir, options);
}

}  // namespace

Result<std::unique_ptr<ir::Model>> load_model(const std::string& path, const LoadOptions& options) {
  // Read through a small buffer rather than a mapping: a mapping's pages stay resident while
  // the parsed copy is built, doubling the load's peak memory for embedded weights.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error("{}: not a regular file", path);
  }
  if (static_cast<uint64_t>(st.st_size) > static_cast<uint64_t>(INT_MAX)) {
    ::close(fd);
    return invalid_model("{}: model protobuf is {} bytes; over 2 GB must use external data", path, st.st_size);
  }
  ::onnx::ModelProto mp;
  bool parsed = false;
  {
    google::protobuf::io::FileInputStream in(fd, 1 << 20);
    google::protobuf::io::CodedInputStream coded(&in);
    coded.SetTotalBytesLimit(INT_MAX);
    parsed = mp.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  ::close(fd);
  if (!parsed) return invalid_model("{}: not a valid ONNX model (protobuf parse failed: truncated or wrong format)", path);
  std::error_code ec;
  std::string dir = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path().string();
  auto r = convert_model(mp, dir, options);
  if (!r.ok()) return r.status().with_context(path);
  return r;
}

Result<std::unique_ptr<ir::Model>> load_model_from_memory(const void* data, size_t size,
                                                          const std::string& base_dir,
                                                          const LoadOptions& options) {
  return parse_and_convert(data, size, base_dir, options);
}

namespace {

// ONNX's checker and strict shape inference on the file; throws or crashes on bad input.
Status onnx_check_unisolated(const std::string& path) {
  PARE_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  if (file->size() > static_cast<size_t>(INT_MAX)) {
    return invalid_model("{}: protobuf over 2 GB; large weights must use external data", path);
  }
  ::onnx::ModelProto mp;
  if (!mp.ParseFromArray(file->data(), static_cast<int>(file->size()))) {
    return invalid_model("{}: not a valid ONNX model (protobuf parse failed: truncated or wrong format)", path);
  }
  try {
    ::onnx::checker::check_model(path);
    PARE_RETURN_IF_ERROR(inline_local_functions(mp));
    ::onnx::ShapeInferenceOptions opts{false, 1, true};
    ::onnx::shape_inference::InferShapes(mp, ::onnx::OpSchemaRegistry::Instance(), opts);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return invalid_model("{}: {}", path, msg);
  }
  return ok_status();
}

}  // namespace

Status check_model_file(const std::string& path) {
  int fds[2];
  if (pipe(fds) != 0) return io_error("cannot create a pipe: {}", std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return io_error("cannot fork: {}", std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    Status st = onnx_check_unisolated(path);
    std::string msg = std::to_string(static_cast<int>(st.code())) + "\n" + st.message();
    ssize_t w = write(fds[1], msg.data(), msg.size());
    (void)w;
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  const size_t nl = msg.find('\n');
  if (!WIFEXITED(wstatus) || nl == std::string::npos) {
    return invalid_model("{}: ONNX's checker crashed on this file{} — it is malformed", path,
                         WIFSIGNALED(wstatus) ? fmt::format(" (signal {})", WTERMSIG(wstatus)) : "");
  }
  const auto code = static_cast<StatusCode>(std::stoi(msg.substr(0, nl)));
  if (code != StatusCode::kOk) return Status(code, msg.substr(nl + 1));
  return load_model(path).status();
}

}  // namespace pare::onnx
