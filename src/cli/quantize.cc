// pare quantize MODEL -o OUT --mode static|dynamic|weight-only|fp16|bf16 — standard ONNX QDQ
// (or half-precision) output that also runs in ONNX Runtime; see docs/quantization.md.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <iostream>

#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/quantize_gguf.h"
#include "compress/quant/calib_data.h"
#include "compress/quant/quantize.h"
#include "eval/evaluate.h"
#include "onnx/onnx.h"

namespace pare::cli {
namespace {

namespace q = compress::quant;

struct Opts {
  std::string model, out, mode = "static", calib, calib_method = "minmax", act_type = "uint8", report, eval_data, eval_split = "test";
  int64_t eval_limit = 0;
  double max_drop = -1;
  q::CalibDataOptions cd;
  double percentile = 99.99;
  bool per_tensor = false, external = false;
  int bits = 8;
  int64_t group_size = 128;
  std::vector<std::string> exclude, op_types;
};

Result<double> accuracy(const std::string& path, const eval::Dataset& data) {
  PARE_ASSIGN_OR_RETURN(auto s, runtime::Session::load(path));
  eval::EvalOptions eo;
  PARE_ASSIGN_OR_RETURN(auto r, eval::evaluate_classifier(*s, data, eo));
  return r.accuracy;
}

Status write_report(const Opts& o, const q::QuantizeReport& r, double acc_before, double acc_after) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"node", l.node}, {"op_type", l.op_type}, {"quantized", l.quantized}, {"reason", l.reason}, {"sqnr_db", l.sqnr_db}});
  nlohmann::json j = {{"model", o.model}, {"output", o.out}, {"mode", o.mode}, {"calib_samples", r.calib_samples},
                      {"bytes_before", r.bytes_before}, {"bytes_after", r.bytes_after},
                      {"size_ratio", r.bytes_before ? double(r.bytes_after) / r.bytes_before : 0.0},
                      {"layers", layers}, {"warnings", r.warnings}};
  if (acc_before >= 0) j["accuracy_before"] = acc_before, j["accuracy_after"] = acc_after;
  std::ofstream f(o.report);
  if (!f) return io_error("cannot write report '{}'", o.report);
  if (o.report.size() > 3 && o.report.substr(o.report.size() - 3) == ".md") {
    f << "# Quantization report\n\n" << fmt::format("`{}` → `{}`, mode {}\n\n", o.model, o.out, o.mode)
      << fmt::format("Initializer bytes: {} → {} ({:.3f}×)\n\n", r.bytes_before, r.bytes_after, j["size_ratio"].get<double>());
    if (acc_before >= 0) f << fmt::format("Accuracy: {:.2f}% → {:.2f}%\n\n", 100 * acc_before, 100 * acc_after);
    f << "| node | op | quantized | SQNR alone (dB) | why not |\n| --- | --- | --- | --- | --- |\n";
    for (const auto& l : r.layers) f << fmt::format("| {} | {} | {} | {} | {} |\n", l.node, l.op_type, l.quantized ? "yes" : "no", l.sqnr_db ? fmt::format("{:.1f}", l.sqnr_db) : "", l.reason);
    for (const auto& w : r.warnings) f << "\n- " << w;
    f << "\n";
  } else {
    f << j.dump(2) << "\n";
  }
  return f ? ok_status() : io_error("cannot write report '{}'", o.report);
}

// Output SQNR (dB) of `path` against `ref_path` on the first output, over `x`.
Result<double> output_sqnr(const std::string& ref_path, const std::string& path, const Tensor& x) {
  double sig = 0, noise = 0;
  PARE_ASSIGN_OR_RETURN(auto a, runtime::Session::load(ref_path));
  PARE_ASSIGN_OR_RETURN(auto b, runtime::Session::load(path));
  const std::string in = a->inputs().at(0).name;
  PARE_ASSIGN_OR_RETURN(auto ya, a->run({{in, RunValue(x)}}));
  PARE_ASSIGN_OR_RETURN(auto yb, b->run({{in, RunValue(x)}}));
  const Tensor& ta = ya[0].tensor;
  const Tensor& tb = yb[0].tensor;
  if (ta.dtype() != DataType::kFloat32 || tb.dtype() != DataType::kFloat32 || ta.numel() != tb.numel())
    return unsupported("SQNR needs float32 outputs of equal size");
  for (int64_t i = 0; i < ta.numel(); ++i) {
    const double r = ta.data<float>()[i], d = r - tb.data<float>()[i];
    sig += r * r;
    noise += d * d;
  }
  return 10 * std::log10(sig / std::max(noise, 1e-30));
}

Status run(const Opts& o) {
  q::QuantizeOptions qo;
  PARE_ASSIGN_OR_RETURN(qo.mode, q::parse_mode(o.mode));
  PARE_ASSIGN_OR_RETURN(qo.calib_method, q::parse_calib_method(o.calib_method));
  if (o.act_type != "uint8" && o.act_type != "int8") return invalid_input("--activation-type must be uint8 or int8, got '{}'", o.act_type);
  qo.activation_type = o.act_type == "int8" ? DataType::kInt8 : DataType::kUInt8;
  if (o.percentile <= 0 || o.percentile > 100) return invalid_input("--percentile must be in (0, 100], got {}", o.percentile);
  if (o.max_drop >= 0 && o.eval_data.empty()) return invalid_input("--max-accuracy-drop needs --eval-data");
  qo.percentile = o.percentile;
  qo.per_tensor = o.per_tensor;
  qo.bits = o.bits;
  qo.group_size = o.group_size;
  qo.op_types = o.op_types;
  ProgressBar bar("calibrate", true);
  qo.progress = [&bar](int64_t done, int64_t total) { bar.update(done, total); };
  // One quantization of the model file with `exclude` kept float, saved to `path`.
  auto quantize_to = [&](const std::vector<std::string>& exclude, const std::string& path) -> Result<q::QuantizeReport> {
    PARE_ASSIGN_OR_RETURN(auto model, onnx::load_model(o.model));
    std::optional<q::CalibrationSource> calib;
    if (!o.calib.empty()) {
      PARE_ASSIGN_OR_RETURN(calib, q::open_calibration(o.calib, *model->graph, o.cd));
    }
    qo.exclude = exclude;
    auto r = q::quantize_model(*model, qo, calib ? &*calib : nullptr);
    bar.finish();
    PARE_RETURN_IF_ERROR(r.status());
    onnx::SaveOptions so;
    so.external_data = o.external;
    PARE_RETURN_IF_ERROR(onnx::save_model(*model, path, so));
    return r;
  };
  PARE_ASSIGN_OR_RETURN(q::QuantizeReport r, quantize_to(o.exclude, o.out));
  double before = -1, after = -1;
  if (!o.eval_data.empty()) {
    eval::DatasetOptions eo = o.cd.dataset;
    eo.split = o.eval_split;
    eo.limit = o.eval_limit;
    PARE_ASSIGN_OR_RETURN(auto data, eval::load_dataset(o.eval_data, eo));
    PARE_ASSIGN_OR_RETURN(before, accuracy(o.model, data));
    PARE_ASSIGN_OR_RETURN(after, accuracy(o.out, data));
    std::cout << fmt::format("accuracy {:.2f}% → {:.2f}% ({} samples)\n", 100 * before, 100 * after, data.size());
    if (o.max_drop >= 0 && 100 * (before - after) > o.max_drop) {
      // Sensitivity: output SQNR with only that layer quantized, on up to 256 samples.
      const int64_t n = std::min<int64_t>(256, data.size());
      Shape xs = data.x.shape();
      xs[0] = n;
      PARE_ASSIGN_OR_RETURN(Tensor x, Tensor::create(data.x.dtype(), xs));
      std::memcpy(x.raw_data(), data.x.raw_data(), x.nbytes());
      std::vector<std::pair<double, std::string>> sens;
      std::vector<std::string> quantized;
      for (const auto& l : r.layers)
        if (l.quantized) quantized.push_back(l.node);
      const std::string tmp = o.out + ".layer.tmp";
      for (const auto& name : quantized) {
        std::vector<std::string> excl = o.exclude;
        for (const auto& other : quantized)
          if (other != name) excl.push_back(other);
        PARE_RETURN_IF_ERROR(quantize_to(excl, tmp).status());
        PARE_ASSIGN_OR_RETURN(double db, output_sqnr(o.model, tmp, x));
        sens.emplace_back(db, name);
      }
      std::remove(tmp.c_str());
      std::sort(sens.begin(), sens.end());
      std::vector<std::string> excl = o.exclude;
      std::map<std::string, std::string> why;
      for (const auto& [db, name] : sens) {
        if (100 * (before - after) <= o.max_drop) break;
        excl.push_back(name);
        why[name] = fmt::format("fallback: most sensitive layer left (SQNR {:.1f} dB alone)", db);
        PARE_ASSIGN_OR_RETURN(r, quantize_to(excl, o.out));
        PARE_ASSIGN_OR_RETURN(after, accuracy(o.out, data));
        std::cout << fmt::format("kept {} float: accuracy {:.2f}%\n", name, 100 * after);
      }
      for (auto& l : r.layers) {
        for (const auto& [db, name] : sens)
          if (name == l.node) l.sqnr_db = db;
        if (why.count(l.node)) l.reason = why[l.node];
      }
      if (100 * (before - after) > o.max_drop)
        r.warnings.push_back(fmt::format("accuracy drop {:.2f} points still exceeds --max-accuracy-drop {}", 100 * (before - after), o.max_drop));
    }
  }
  int quantized = 0;
  for (const auto& l : r.layers) quantized += l.quantized;
  std::cout << fmt::format("wrote {}: {} of {} nodes converted, initializers {:.2f} MB → {:.2f} MB ({:.3f}×)\n", o.out,
                           quantized, r.layers.size(), r.bytes_before / 1e6, r.bytes_after / 1e6,
                           r.bytes_before ? double(r.bytes_after) / r.bytes_before : 0.0);
  for (const auto& w : r.warnings) std::cout << "note: " << w << "\n";
  if (!o.report.empty()) PARE_RETURN_IF_ERROR(write_report(o, r, before, after));
  return ok_status();
}

}  // namespace

void add_quantize(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("quantize", "Quantize a model to int8/int4 (ONNX QDQ) or convert it to fp16/bf16; requantize a GGUF language model (--type)");
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->model, "float32 ONNX model, or a GGUF language model (then --type)")->required();
  cmd->add_option("-o,--output", o->out, "output ONNX file")->required();
  cmd->add_option("--mode", o->mode,
                  "static (int8 weights and activations, needs --calib-data), dynamic (int8 weights, activations "
                  "quantized at run time), weight-only (MatMul/Gemm weights, --bits, --group-size), fp16, bf16")
      ->default_val("static");
  cmd->add_option("--calib-data", o->calib,
                  "calibration inputs: an IDX folder or .npz with x (as pare eval --data), or a folder of .npy/.pb "
                  "files (one per sample) or of per-sample folders with INPUT_NAME.npy/.pb; fp16 uses it to find "
                  "activations beyond the fp16 range");
  cmd->add_option("--calib-method", o->calib_method,
                  "activation range: minmax, percentile (of |x|, --percentile), entropy (KL-divergence threshold "
                  "over a 2048-bin histogram), mse (threshold minimizing clipping + rounding error)")
      ->default_val("minmax");
  cmd->add_option("--percentile", o->percentile, "percentile of |x| kept by --calib-method percentile")->default_val(99.99);
  cmd->add_option("--calib-size", o->cd.limit, "use at most N calibration rows (data set) or files (0: all)")->default_val(0);
  cmd->add_option("--calib-batch", o->cd.batch, "rows per calibration run for a data set")->default_val(32);
  cmd->add_option("--split", o->cd.dataset.split, "split of a --calib-data data set: test or train")->default_val("test");
  cmd->add_option("--scale", o->cd.dataset.scale, "factor applied to integer pixels (default 1/255)");
  cmd->add_option("--mean", o->cd.dataset.mean, "per-channel mean subtracted after scaling")->delimiter(',');
  cmd->add_option("--std", o->cd.dataset.std, "per-channel std divided by after the mean")->delimiter(',');
  cmd->add_flag("--per-tensor", o->per_tensor, "one weight scale per tensor instead of per output channel");
  cmd->add_option("--activation-type", o->act_type, "static activations: uint8 (asymmetric) or int8 (symmetric)")->default_val("uint8");
  cmd->add_option("--bits", o->bits, "weight-only: 8 or 4")->default_val(8);
  cmd->add_option("--group-size", o->group_size,
                  "weight-only: elements per scale along K, and along the hidden axis of Gather tables "
                  "(32, 64, 128; 0: per channel / per row)")->default_val(128);
  cmd->add_option("--exclude", o->exclude, "node names kept in float (comma-separated)")->delimiter(',');
  cmd->add_option("--op-types", o->op_types, "op types to quantize (comma-separated; default Conv,MatMul,Gemm,Gather for static, "
                  "MatMul,Gemm,Gather for dynamic and weight-only; Gather = constant embedding tables: int8 per row, "
                  "weight-only --bits in --group-size blocks along the hidden axis; a tied LM head reads the same table)")->delimiter(',');
  cmd->add_option("--eval-data", o->eval_data, "labelled data set (as pare eval --data): print accuracy before and after");
  cmd->add_option("--eval-split", o->eval_split, "split of --eval-data: test or train")->default_val("test");
  cmd->add_option("--eval-limit", o->eval_limit, "evaluate only the first N samples of --eval-data (0: all)")->default_val(0);
  cmd->add_option("--max-accuracy-drop", o->max_drop,
                  "accuracy control (needs --eval-data): if accuracy drops by more than X points, rank layers by output "
                  "SQNR with only that layer quantized and keep the most sensitive ones float, one at a time, until it fits");
  cmd->add_option("--report", o->report, "write a report (.json or .md): per-node outcome and why, sizes, accuracy");
  cmd->add_flag("--external-data", o->external, "store large initializers in OUT.data (models over 2 GB)");
  auto gguf_opts = add_gguf_quantize_options(cmd);  // MODEL.gguf: quantize_gguf.cc
  cmd->callback([o, gguf_opts, &rc] {
    if (is_gguf_file(o->model)) return void(rc = run_gguf_quantize(*gguf_opts, o->model, o->out));
    Status st = run(*o);
    if (!st.ok()) rc = report(st);
  });
}

}  // namespace pare::cli
