#include "serve/tensor_codec.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/half.h"

namespace pare::serve {
namespace {

using json = nlohmann::json;

struct OipName {
  const char* name;
  DataType dtype;
};
constexpr OipName kOipNames[] = {
    {"BOOL", DataType::kBool},     {"UINT8", DataType::kUInt8},   {"UINT16", DataType::kUInt16},
    {"UINT32", DataType::kUInt32}, {"UINT64", DataType::kUInt64}, {"INT8", DataType::kInt8},
    {"INT16", DataType::kInt16},   {"INT32", DataType::kInt32},   {"INT64", DataType::kInt64},
    {"FP16", DataType::kFloat16},  {"FP32", DataType::kFloat32},  {"FP64", DataType::kFloat64},
    {"BF16", DataType::kBFloat16},
};

// Flattens a possibly nested JSON array (the spec allows both) into `out`.
void flatten(const json& j, std::vector<const json*>& out) {
  if (j.is_array()) {
    for (const auto& e : j) flatten(e, out);
  } else {
    out.push_back(&j);
  }
}

template <typename T>
Status fill_from_json(const std::vector<const json*>& items, Tensor& t, const std::string& name) {
  T* dst = t.data<T>();
  for (size_t i = 0; i < items.size(); ++i) {
    const json& v = *items[i];
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) return invalid_input("input '{}': element {} is not a boolean", name, i);
      dst[i] = v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) return invalid_input("input '{}': element {} is not an integer", name, i);
      dst[i] = static_cast<T>(v.get<int64_t>());
    } else {
      if (!v.is_number()) return invalid_input("input '{}': element {} is not a number", name, i);
      dst[i] = static_cast<T>(v.get<double>());
    }
  }
  return ok_status();
}

Status fill_json(const std::vector<const json*>& items, Tensor& t, const std::string& name) {
  switch (t.dtype()) {
    case DataType::kBool: return fill_from_json<bool>(items, t, name);
    case DataType::kUInt8: return fill_from_json<uint8_t>(items, t, name);
    case DataType::kUInt16: return fill_from_json<uint16_t>(items, t, name);
    case DataType::kUInt32: return fill_from_json<uint32_t>(items, t, name);
    case DataType::kUInt64: return fill_from_json<uint64_t>(items, t, name);
    case DataType::kInt8: return fill_from_json<int8_t>(items, t, name);
    case DataType::kInt16: return fill_from_json<int16_t>(items, t, name);
    case DataType::kInt32: return fill_from_json<int32_t>(items, t, name);
    case DataType::kInt64: return fill_from_json<int64_t>(items, t, name);
    case DataType::kFloat32: return fill_from_json<float>(items, t, name);
    case DataType::kFloat64: return fill_from_json<double>(items, t, name);
    case DataType::kFloat16: {
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i]->is_number()) return invalid_input("input '{}': element {} is not a number", name, i);
        t.data<Float16>()[i] = Float16(items[i]->get<float>());
      }
      return ok_status();
    }
    case DataType::kBFloat16: {
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i]->is_number()) return invalid_input("input '{}': element {} is not a number", name, i);
        t.data<BFloat16>()[i] = BFloat16(items[i]->get<float>());
      }
      return ok_status();
    }
    default: return unsupported("input '{}': datatype not supported in JSON", name);
  }
}

template <typename T>
void append_json(const Tensor& t, json& arr) {
  const T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
      arr.push_back(static_cast<float>(p[i]));
    else
      arr.push_back(p[i]);
  }
}

json tensor_data_json(const Tensor& t) {
  json arr = json::array();
  switch (t.dtype()) {
    case DataType::kBool: append_json<bool>(t, arr); break;
    case DataType::kUInt8: append_json<uint8_t>(t, arr); break;
    case DataType::kUInt16: append_json<uint16_t>(t, arr); break;
    case DataType::kUInt32: append_json<uint32_t>(t, arr); break;
    case DataType::kUInt64: append_json<uint64_t>(t, arr); break;
    case DataType::kInt8: append_json<int8_t>(t, arr); break;
    case DataType::kInt16: append_json<int16_t>(t, arr); break;
    case DataType::kInt32: append_json<int32_t>(t, arr); break;
    case DataType::kInt64: append_json<int64_t>(t, arr); break;
    case DataType::kFloat32: append_json<float>(t, arr); break;
    case DataType::kFloat64: append_json<double>(t, arr); break;
    case DataType::kFloat16: append_json<Float16>(t, arr); break;
    case DataType::kBFloat16: append_json<BFloat16>(t, arr); break;
    default: break;
  }
  return arr;
}

Result<InferRequest> parse_header(const json& h, const std::string& binary) {
  if (!h.is_object()) return invalid_input("request body must be a JSON object");
  InferRequest req;
  if (h.contains("id")) {
    if (!h["id"].is_string()) return invalid_input("'id' must be a string");
    req.id = h["id"].get<std::string>();
  }
  if (h.contains("parameters") && h["parameters"].is_object()) {
    const auto& p = h["parameters"];
    if (p.contains("binary_data_output") && p["binary_data_output"].is_boolean())
      req.all_binary = p["binary_data_output"].get<bool>();
  }
  if (!h.contains("inputs") || !h["inputs"].is_array() || h["inputs"].empty())
    return invalid_input("'inputs' must be a non-empty array");
  size_t offset = 0;
  for (const auto& in : h["inputs"]) {
    if (!in.is_object()) return invalid_input("each input must be an object");
    if (!in.contains("name") || !in["name"].is_string()) return invalid_input("input without a string 'name'");
    std::string name = in["name"].get<std::string>();
    if (!in.contains("datatype") || !in["datatype"].is_string())
      return invalid_input("input '{}': missing 'datatype'", name);
    PARE_ASSIGN_OR_RETURN(DataType dt, dtype_from_oip(in["datatype"].get<std::string>()));
    if (!in.contains("shape") || !in["shape"].is_array())
      return invalid_input("input '{}': missing 'shape' array", name);
    Shape shape;
    for (const auto& d : in["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        return invalid_input("input '{}': shape must hold non-negative integers", name);
      shape.push_back(d.get<int64_t>());
    }
    PARE_ASSIGN_OR_RETURN(int64_t numel, shape_numel(shape, "input '" + name + "'"));
    if (numel > (int64_t(1) << 31)) return invalid_input("input '{}': {} elements is too many", name, numel);
    int64_t bin_size = -1;
    if (in.contains("parameters") && in["parameters"].is_object() &&
        in["parameters"].contains("binary_data_size")) {
      const auto& b = in["parameters"]["binary_data_size"];
      if (!b.is_number_integer() || b.get<int64_t>() < 0)
        return invalid_input("input '{}': binary_data_size must be a non-negative integer", name);
      bin_size = b.get<int64_t>();
    }
    PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, shape));
    if (bin_size >= 0) {
      if (in.contains("data")) return invalid_input("input '{}': both 'data' and binary_data_size given", name);
      if (static_cast<size_t>(bin_size) != t.nbytes())
        return invalid_input("input '{}': binary_data_size {} but shape {} of {} needs {} bytes", name, bin_size,
                             in["shape"].dump(), dtype_to_oip(dt), t.nbytes());
      if (offset + bin_size > binary.size())
        return invalid_input("input '{}': binary data ends after {} bytes, needs {} more at offset {}", name,
                             binary.size(), bin_size, offset);
      if (bin_size) std::memcpy(t.raw_data(), binary.data() + offset, bin_size);
      offset += bin_size;
    } else {
      if (!in.contains("data")) return invalid_input("input '{}': no 'data' and no binary_data_size", name);
      std::vector<const json*> items;
      flatten(in["data"], items);
      if (static_cast<int64_t>(items.size()) != numel)
        return invalid_input("input '{}': {} elements in 'data' but shape {} holds {}", name, items.size(),
                             in["shape"].dump(), numel);
      PARE_RETURN_IF_ERROR(fill_json(items, t, name));
    }
    for (const auto& [n, _] : req.inputs)
      if (n == name) return invalid_input("input '{}' given twice", name);
    req.inputs.emplace_back(name, std::move(t));
  }
  if (offset != binary.size())
    return invalid_input("binary data holds {} bytes but the inputs use {}", binary.size(), offset);
  if (h.contains("outputs")) {
    if (!h["outputs"].is_array()) return invalid_input("'outputs' must be an array");
    for (const auto& o : h["outputs"]) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        return invalid_input("each requested output needs a string 'name'");
      RequestedOutput ro{o["name"].get<std::string>(), req.all_binary};
      if (o.contains("parameters") && o["parameters"].is_object() && o["parameters"].contains("binary_data") &&
          o["parameters"]["binary_data"].is_boolean())
        ro.binary = o["parameters"]["binary_data"].get<bool>();
      req.outputs.push_back(ro);
    }
  }
  return req;
}

}  // namespace

Result<DataType> dtype_from_oip(const std::string& name) {
  for (const auto& n : kOipNames)
    if (name == n.name) return n.dtype;
  return invalid_input("unknown or unsupported datatype '{}'", name);
}

const char* dtype_to_oip(DataType t) {
  for (const auto& n : kOipNames)
    if (t == n.dtype) return n.name;
  return "UNSUPPORTED";
}

Result<InferRequest> parse_infer_request(const std::string& body, int64_t header_length) {
  if (header_length > static_cast<int64_t>(body.size()))
    return invalid_input("Inference-Header-Content-Length {} exceeds the body size {}", header_length, body.size());
  size_t hl = header_length < 0 ? body.size() : static_cast<size_t>(header_length);
  json h = json::parse(body.begin(), body.begin() + hl, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded()) return invalid_input("malformed JSON in request header");
  return parse_header(h, body.substr(hl));
}

std::string encode_infer_response(const std::string& model, const std::string& version,
                                  const std::string& id,
                                  const std::vector<std::pair<std::string, Tensor>>& outputs,
                                  const std::vector<bool>& binary, int64_t* header_length) {
  json r;
  r["model_name"] = model;
  if (!version.empty()) r["model_version"] = version;
  if (!id.empty()) r["id"] = id;
  r["outputs"] = json::array();
  std::string tail;
  bool any_binary = false;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i].second;
    json o;
    o["name"] = outputs[i].first;
    o["datatype"] = dtype_to_oip(t.dtype());
    o["shape"] = t.shape();
    if (binary[i]) {
      any_binary = true;
      o["parameters"]["binary_data_size"] = t.nbytes();
      tail.append(static_cast<const char*>(t.raw_data()), t.nbytes());
    } else {
      o["data"] = tensor_data_json(t);
    }
    r["outputs"].push_back(std::move(o));
  }
  std::string head = r.dump();
  *header_length = any_binary ? static_cast<int64_t>(head.size()) : -1;
  return head + tail;
}

}  // namespace pare::serve
