// The `pare` command: one file per subcommand (STYLE.md), each adding itself to the app.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/session.h"

namespace pare::cli {

// Prints "pare: <code>: <message>" on stderr; returns the process exit code for it.
int report(const Status& st);
// This process's peak resident set: VmHWM of /proc/self/status (the high-water mark of this
// program's own memory), else getrusage's ru_maxrss — which Linux carries over from the parent
// across fork and exec, so a run started by a large process (Python with PyTorch loaded) would
// report the parent's size (bench.cc).
int64_t peak_rss_bytes();

// Inputs for a session from `[NAME=]FILE` specs (.npy or TensorProto .pb), bound by name or
// in graph-input order; with `random`, unbound inputs get generated data (floats in [0,1),
// integers 0, bools false; symbolic dims from `dims` (name → extent) else 1).
struct InputSpec {
  std::vector<std::string> files;
  bool random = false;
  std::vector<std::pair<std::string, Shape>> shapes;  // --shape NAME=d0,d1,...
  uint64_t seed = 0;
  int64_t batch = 0;  // > 0: extent for a symbolic first dim of generated inputs
};
Result<std::vector<std::pair<std::string, RunValue>>> make_inputs(const runtime::Session& s, const InputSpec& spec);
// Parses "NAME=d0,d1,..." into a (name, shape) pair.
Result<std::pair<std::string, Shape>> parse_shape_spec(const std::string& s);
// File-name-safe form of a tensor name: characters outside [A-Za-z0-9._-] become '_'.
std::string safe_file_name(const std::string& name);

void add_check(CLI::App& app, int& rc);
void add_inspect(CLI::App& app, int& rc);
void add_run(CLI::App& app, int& rc);
void add_convert(CLI::App& app, int& rc);
void add_eval(CLI::App& app, int& rc);
void add_ops(CLI::App& app, int& rc);
void add_bench(CLI::App& app, int& rc);
void add_optimize(CLI::App& app, int& rc);
void add_generate(CLI::App& app, int& rc);
void add_chat(CLI::App& app, int& rc);
void add_train(CLI::App& app, int& rc);
void add_distill(CLI::App& app, int& rc);
void add_quantize(CLI::App& app, int& rc);
void add_prune(CLI::App& app, int& rc);
void add_serve(CLI::App& app, int& rc);
void add_tune(CLI::App& app, int& rc);  // also pare report, pare compare (tune.cc, report.cc, compare.cc)
void add_report(CLI::App& app, int& rc);
void add_compare(CLI::App& app, int& rc);
// Adds -O/--opt-level to a subcommand that creates a session.
void add_opt_level_option(CLI::App* cmd, int& level);

}  // namespace pare::cli
