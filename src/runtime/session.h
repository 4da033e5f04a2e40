// Session: load → plan once (a kernel per node, chosen from the registry; constants bound;
// buffer lifetimes computed) → run many times by input/output name (DESIGN.md §1).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/run_value.h"
#include "core/status.h"
#include "ir/graph.h"
#include "ops/kernel.h"
#include "runtime/buffer_pool.h"

namespace pare::runtime {

struct SessionOptions {
  int num_threads = 0;       // 0: all cores (OpenMP default)
  bool profile = false;      // record per-node timings (see write_profile)
  int opt_level = 3;         // graph optimizations (passes/pass.h): 0 none … 3 (default)
  bool reference_kernels = false;  // only the reference kernels (debugging, testing fast ones)
};

// Name and static type of a graph input or output.
struct IoInfo {
  std::string name;
  ir::TypeInfo type;
};

struct GraphPlan;
struct Frame;

// One node's timing, for the Chrome trace and `--profile` summaries.
struct ProfileEvent {
  std::string node, op, kernel;
  int64_t start_us = 0, duration_us = 0;
  int64_t thread_cpu_us = 0;  // CPU time of the calling thread (all of it at 1 thread; steady under load)
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> load(const std::string& path, const SessionOptions& options = {});
  static Result<std::unique_ptr<Session>> create(std::unique_ptr<ir::Model> model,
                                                 const SessionOptions& options = {});
  ~Session();

  const std::vector<IoInfo>& inputs() const { return inputs_; }
  const std::vector<IoInfo>& outputs() const { return outputs_; }
  // The optimized model being run. Constants that kernels prepacked are released from it
  // (Kernel::prepacked_input): it is not a complete model to save.
  const ir::Model& model() const { return *model_; }

  // Runs with inputs by name; returns the requested outputs (all graph outputs when empty),
  // in the order requested.
  Result<std::vector<RunValue>> run(const std::vector<std::pair<std::string, RunValue>>& feeds,
                                    const std::vector<std::string>& output_names = {});
  // Tensor-only convenience.
  Result<std::map<std::string, Tensor>> run_tensors(const std::map<std::string, Tensor>& feeds);

  const std::vector<ProfileEvent>& profile() const { return events_; }
  void clear_profile() { events_.clear(); }
  // Chrome trace JSON (chrome://tracing, Perfetto) of the recorded events.
  Status write_profile(const std::string& path) const;
  // Intermediate-tensor memory: peak live bytes, bytes held, and system allocations so far.
  const BufferPool& memory() const { return pool_; }
  // Kernel chosen for each node of the main graph, in execution order ("reference", ...).
  std::vector<std::pair<std::string, std::string>> kernel_choices() const;

 private:
  friend class FrameRunner;
  Session() = default;
  Status plan_graph(const ir::Graph& g, std::vector<const GraphPlan*> ancestors);
  Result<std::vector<RunValue>> run_plan(const GraphPlan& plan, Frame* parent,
                                         std::vector<RunValue> inputs);
  Status check_feed(const IoInfo& info, const RunValue& v) const;

  std::unique_ptr<ir::Model> model_;
  SessionOptions options_;
  std::vector<IoInfo> inputs_, outputs_;
  std::unordered_map<const ir::Graph*, std::unique_ptr<GraphPlan>> plans_;
  std::vector<ProfileEvent> events_;
  BufferPool pool_;
  int64_t epoch_us_ = 0;
};

}  // namespace pare::runtime
