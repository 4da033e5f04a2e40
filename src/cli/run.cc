// pare run MODEL [--input [NAME=]FILE]... [--random] [--output-dir DIR] [--threads N]
// Runs once and writes each output to DIR/<name>.npy.
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "eval/npy.h"

namespace pare::cli {

void add_run(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("run", "Run a model once on input files (or random data) and save the outputs");
  struct Opts {
    std::string model, out_dir = ".", profile;
    InputSpec inputs;
    std::vector<std::string> shape_specs;
    int opt_level = 3;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->model, "ONNX model file")->required();
  cmd->add_option("-i,--input", o->inputs.files,
                  "[NAME=]FILE, .npy or ONNX TensorProto .pb; without NAME, files bind to the inputs in order");
  cmd->add_flag("--random", o->inputs.random, "generate inputs not given as files (floats in [0,1), integers 0)");
  cmd->add_option("--shape", o->shape_specs, "NAME=d0,d1,... shape for a generated input (symbolic dims default to 1)");
  cmd->add_option("--seed", o->inputs.seed, "seed for --random")->default_val(0);
  cmd->add_option("-d,--output-dir", o->out_dir, "folder for <output name>.npy files")->default_val(".");
  cmd->add_option("-t,--threads", o->threads, "threads (0: all cores)")->default_val(0);
  add_opt_level_option(cmd, o->opt_level);
  cmd->add_option("--profile", o->profile, "write a per-node Chrome trace JSON to this file");
  cmd->callback([o, &rc] {
    for (const auto& spec : o->shape_specs) {
      auto sh = parse_shape_spec(spec);
      if (!sh.ok()) {
        rc = report(sh.status());
        return;
      }
      o->inputs.shapes.push_back(*sh);
    }
    runtime::SessionOptions so;
    so.num_threads = o->threads;
    so.opt_level = o->opt_level;
    so.profile = !o->profile.empty();
    auto s = runtime::Session::load(o->model, so);
    if (!s.ok()) {
      rc = report(s.status());
      return;
    }
    auto feeds = make_inputs(**s, o->inputs);
    if (!feeds.ok()) {
      rc = report(feeds.status());
      return;
    }
    auto outs = (*s)->run(*feeds);
    if (!outs.ok()) {
      rc = report(outs.status());
      return;
    }
    std::error_code ec;
    std::filesystem::create_directories(o->out_dir, ec);
    for (size_t i = 0; i < outs->size(); ++i) {
      const std::string& name = (*s)->outputs()[i].name;
      const RunValue& v = (*outs)[i];
      if (!v.is_tensor()) {
        std::cout << name << ": " << (v.is_none() ? "none" : "sequence of " + std::to_string(v.sequence.size()))
                  << " (not written)\n";
        continue;
      }
      const std::string path = (std::filesystem::path(o->out_dir) / (safe_file_name(name) + ".npy")).string();
      Status st = eval::npy_write(v.tensor, path);
      if (!st.ok()) {
        rc = report(st);
        return;
      }
      std::cout << name << ": " << v.tensor.type_string() << " -> " << path << "\n";
    }
    if (!o->profile.empty()) {
      Status st = (*s)->write_profile(o->profile);
      if (!st.ok()) rc = report(st);
    }
  });
}

}  // namespace pare::cli
