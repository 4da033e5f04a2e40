// The search of pare tune (see tune.h): a queue of candidates ordered by cost, expanded only
// through candidates that keep the quality, cached in OUTDIR/cache, bounded by the budget.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "eval/npy.h"
#include "onnx/onnx.h"
#include "train/data.h"
#include "train/trainer.h"
#include "tune/internal.h"

namespace pare::tune {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Item {
  std::string id, kind, parent, gate;  // parent: the model it is built from ("": the original)
  json params;
  size_t variant = 0;
  int cost = 0;
  int64_t seq = 0;
};

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("cannot read '{}'", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return f ? ok_status() : io_error("cannot write '{}'", path);
}

Result<json> read_json(const std::string& path) {
  PARE_ASSIGN_OR_RETURN(std::string s, read_file(path));
  try {
    return json::parse(s);
  } catch (const std::exception& e) {
    return invalid_input("'{}' is not valid JSON: {}", path, e.what());
  }
}

std::string file_id(const std::string& id) {
  std::string s = id;
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) c = '_';
  return s;
}

double minutes(Clock::duration d) { return std::chrono::duration<double>(d).count() / 60.0; }

}  // namespace

Result<Objective> parse_objective(const std::string& s) {
  if (s == "latency") return Objective::kLatency;
  if (s == "size") return Objective::kSize;
  if (s == "accuracy") return Objective::kAccuracy;
  return invalid_input("--objective must be latency, size or accuracy, got '{}'", s);
}

const char* objective_name(Objective o) {
  return o == Objective::kLatency ? "latency" : o == Objective::kSize ? "size" : "accuracy";
}

Result<json> run_tune(const TuneOptions& o) {
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  if (!(o.budget_minutes > 0)) return invalid_input("--budget-minutes must be positive, got {}", o.budget_minutes);
  if (o.outdir.empty()) return invalid_input("an output folder (-o) is needed");
  if (o.calib_size <= 0) return invalid_input("--calib-size must be positive");
  for (double w : o.widths)
    if (!(w > 0 && w < 1)) return invalid_input("student widths must be in (0, 1), got {}", w);
  for (double f : o.prune_flops)
    if (!(f > 0 && f < 1)) return invalid_input("--prune-flops fractions must be in (0, 1), got {}", f);
  for (const auto& k : o.recipes)
    if (!find_recipe(k)) return invalid_input("unknown recipe '{}' (known: {})", k, fmt::join(recipe_kinds(), ", "));
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(static_cast<int64_t>(o.budget_minutes * 60000));
  const fs::path out(o.outdir), cache = out / "cache";
  std::error_code ec;
  fs::create_directories(cache, ec);
  if (ec) return io_error("cannot create '{}': {}", cache.string(), ec.message());

  // The original model, its scores on the eval data (the reference of every candidate).
  PARE_ASSIGN_OR_RETURN(auto original, onnx::load_model(o.model));
  PARE_ASSIGN_OR_RETURN(auto orig_copy, clone(*original));
  runtime::SessionOptions so;
  so.num_threads = o.threads;
  PARE_ASSIGN_OR_RETURN(auto orig_s, runtime::Session::create(std::move(orig_copy), so));
  if (orig_s->inputs().empty()) return invalid_input("the model has no inputs");
  const runtime::IoInfo input = orig_s->inputs()[0];
  PARE_ASSIGN_OR_RETURN(EvalSet evalset, load_eval_set(o.eval_data, o.data, o.eval_limit, input, o.seed));
  PARE_RETURN_IF_ERROR(check_input(input, evalset.x.shape(), 64).status());
  log(fmt::format("tune: {} samples of {} ({}), budget {:.1f} min", evalset.size(), o.eval_data,
                  evalset.labelled() ? "labelled: quality = top-1 accuracy" : "no labels: quality = output SQNR against the original",
                  o.budget_minutes));
  auto ref_r = run_scores(*orig_s, evalset, 64, deadline);
  if (!ref_r.ok()) {
    if (ref_r.status().code() == StatusCode::kResourceExhausted)
      return resource_exhausted("a budget of {} min is too small for even the baseline: evaluating the original model did not finish ({})",
                                o.budget_minutes, ref_r.status().message());
    return ref_r.status();
  }
  const Tensor ref = *ref_r;
  if (evalset.labelled()) {
    const int64_t k = ref.dim(1);
    for (int64_t i = 0; i < evalset.size(); ++i) {
      const int64_t y = evalset.y.data<int64_t>()[i];
      if (y < 0 || y >= k)
        return invalid_input("eval data does not match the model: label {} of sample {} is outside the model's {} outputs", y, i, k);
    }
  }
  const json base_q = quality(ref, ref, evalset);
  const bool labelled = evalset.labelled();
  const double base_acc = labelled ? base_q["accuracy"].get<double>() : 0.0;
  if (labelled) log(fmt::format("tune: original model accuracy {:.2f}%", 100 * base_acc));

  // Calibration rows: --calib-data, else the eval data (IDX folders: their train split).
  const std::string calib_spec0 = o.calib_data.empty() ? o.eval_data : o.calib_data;
  RecipeContext ctx{o, *original, input.name};
  ctx.deadline = deadline;
  eval::DatasetOptions cdo = o.data;
  if (fs::is_directory(calib_spec0, ec) && o.calib_data.empty()) cdo.split = "train";
  if (fs::is_directory(calib_spec0, ec)) ctx.calib_split = cdo.split;
  PARE_ASSIGN_OR_RETURN(EvalSet calibset, load_eval_set(calib_spec0, cdo, o.calib_size, input, o.seed + 1));
  PARE_RETURN_IF_ERROR(check_input(input, calibset.x.shape(), 64).status());
  ctx.calib_x = &calibset.x;
  ctx.calib_spec = calib_spec0;
  if (calib_spec0.rfind("random:", 0) == 0) {  // commands need files: one .npy per batch of 32
    const fs::path dir = out / "calib";
    fs::create_directories(dir, ec);
    for (int64_t b = 0; b < calibset.size(); b += 32) {
      PARE_ASSIGN_OR_RETURN(Tensor t, take_rows(calibset.x, b, std::min<int64_t>(32, calibset.size() - b)));
      PARE_RETURN_IF_ERROR(eval::npy_write(t, (dir / fmt::format("batch{:05d}.npy", b / 32)).string()));
    }
    ctx.calib_spec = dir.string();
  }
  // Training data and teacher logits, on first use.
  std::optional<eval::Dataset> train_set;
  std::optional<Tensor> teacher_logits;
  ctx.train = [&]() -> Result<const eval::Dataset*> {
    if (!train_set) {
      train::DataOptions dopt;
      dopt.limit = o.train_limit;
      dopt.mean = o.data.mean;
      dopt.std = o.data.std;
      PARE_ASSIGN_OR_RETURN(auto d, train::load_data(o.train_data, dopt));
      PARE_RETURN_IF_ERROR(train::validate_data(*original, d, "training data"));
      train_set = std::move(d);
    }
    return &*train_set;
  };
  const std::string logits_path = (cache / "teacher_logits.npy").string();
  ctx.teacher_logits = [&]() -> Result<const Tensor*> {
    if (teacher_logits) return &*teacher_logits;
    PARE_ASSIGN_OR_RETURN(const eval::Dataset* d, ctx.train());
    if (fs::exists(logits_path)) {
      PARE_ASSIGN_OR_RETURN(Tensor t, eval::npy_read(logits_path));
      if (t.rank() == 2 && t.dim(0) == d->size()) teacher_logits = t;
    }
    if (!teacher_logits) {
      log(fmt::format("tune: teacher logits for {} training samples", d->size()));
      EvalSet ts;
      ts.x = d->x;
      PARE_ASSIGN_OR_RETURN(Tensor t, run_scores(*orig_s, ts, 64, deadline));
      PARE_RETURN_IF_ERROR(eval::npy_write(t, logits_path));
      teacher_logits = t;
    }
    return &*teacher_logits;
  };

  // Cache: valid while everything that shapes a candidate's model or measurement is the same.
  PARE_ASSIGN_OR_RETURN(std::string model_bytes, read_file(o.model));
  json fp = {{"model_hash", std::to_string(std::hash<std::string>{}(model_bytes))}, {"eval", o.eval_data}, {"eval_limit", o.eval_limit},
             {"calib", calib_spec0}, {"calib_size", o.calib_size}, {"train", o.train_data}, {"train_limit", o.train_limit},
             {"scale", o.data.scale}, {"mean", o.data.mean}, {"std", o.data.std}, {"split", o.data.split},
             {"threads", o.threads}, {"batch", o.batch}, {"epochs", o.distill_epochs}, {"lr", o.lr},
             {"temperature", o.temperature}, {"alpha", o.alpha}, {"seed", o.seed}, {"teacher_init", o.teacher_init},
             {"widths", o.widths}, {"prune_flops", o.prune_flops}};
  const std::string fp_path = (cache / "fingerprint.json").string();
  auto old_fp = read_json(fp_path);
  if (o.fresh || !old_fp.ok() || *old_fp != fp) {
    if (old_fp.ok()) log("tune: settings changed (or --fresh): the cache is cleared");
    fs::remove_all(cache, ec);
    fs::create_directories(cache, ec);
    PARE_RETURN_IF_ERROR(write_file(fp_path, fp.dump(2)));
  }

  auto enabled = [&](const Recipe& r) {
    if (r.stage == 0) return true;
    if (!r.available(o)) return false;
    return o.recipes.empty() || std::find(o.recipes.begin(), o.recipes.end(), r.kind) != o.recipes.end();
  };
  std::vector<Item> queue;
  int64_t seq = 0;
  auto make_item = [&](const Recipe& r, size_t variant, const std::string& parent, const std::string& gate) {
    const auto vs = r.variants(o);
    Item it;
    it.kind = r.kind;
    it.variant = variant;
    it.params = vs[variant];
    const std::string label = r.label(it.params);
    const std::string own = r.kind + (label.empty() ? "" : "-" + label);
    it.parent = r.stage == 1 ? "" : parent;
    it.id = (parent.empty() || parent == "fp32" || r.stage == 1) ? own : parent + "+" + own;
    if (r.stage == 0) it.id = "fp32";
    it.gate = gate;
    it.cost = r.cost;
    it.seq = seq++;
    return it;
  };
  // Children of a measured candidate `c` (stage of its recipe) and the next chained variant.
  json candidates = json::array();
  auto children = [&](const Item& c) {
    std::vector<Item> kids;
    const Recipe* cr = find_recipe(c.kind);
    for (const auto& r : recipe_table()) {
      if (!enabled(r) || r.stage <= cr->stage || r.stage == 0) continue;
      if (cr->stage == 1 && r.stage == 1) continue;
      const size_t nv = r.variants(o).size();
      for (size_t v = 0; v < (r.chain ? std::min<size_t>(1, nv) : nv); ++v) kids.push_back(make_item(r, v, c.id, c.id));
    }
    if (cr->chain && c.variant + 1 < cr->variants(o).size()) kids.push_back(make_item(*cr, c.variant + 1, c.parent.empty() ? "fp32" : c.parent, c.id));
    return kids;
  };
  queue.push_back(make_item(recipe_table()[0], 0, "", ""));

  auto meets_quality = [&](const json& m) {
    if (labelled) return o.max_accuracy_drop < 0 || 100 * (base_acc - m["quality"]["accuracy"].get<double>()) <= o.max_accuracy_drop + 1e-9;
    return m["quality"]["sqnr_db"].get<double>() >= o.min_sqnr_db;
  };
  auto record = [&](const Item& it, const std::string& status, const std::string& reason, const json& m) {
    json c = {{"id", it.id}, {"kind", it.kind}, {"params", it.params}, {"parent", it.parent.empty() ? "original" : it.parent},
              {"gate", it.gate}, {"status", status}, {"reason", reason}};
    if (!m.is_null()) c["measure"] = m;
    candidates.push_back(c);
  };
  std::optional<json> sensitivity;
  auto run_sensitivity = [&]() {
    const std::string sp = (cache / "sensitivity.json").string();
    if (auto cached = read_json(sp); cached.ok()) {
      sensitivity = *cached;
      return;
    }
    if (Clock::now() > deadline) return;
    auto base = onnx::load_model((cache / "fp32.onnx").string());
    if (!base.ok()) return;
    log("tune: per-layer sensitivity (static int8, one layer at a time)");
    auto x = take_rows(evalset.x, 0, std::min<int64_t>(64, evalset.size()));
    if (!x.ok()) return;
    auto cx = take_rows(calibset.x, 0, std::min<int64_t>(64, calibset.size()));
    if (!cx.ok()) return;
    auto s = layer_sensitivity(**base, *cx, *x, input.name, deadline);
    if (s.ok()) {
      sensitivity = *s;
      if (Clock::now() < deadline) (void)write_file(sp, s->dump(2));
    }
  };

  int done = 0;
  while (!queue.empty()) {
    auto it_min = std::min_element(queue.begin(), queue.end(),
                                   [](const Item& a, const Item& b) { return std::tie(a.cost, a.seq) < std::tie(b.cost, b.seq); });
    Item it = *it_min;
    queue.erase(it_min);
    if (it.cost >= 2 && o.sensitivity && !sensitivity) run_sensitivity();
    const Recipe* r = find_recipe(it.kind);
    const std::string fid = file_id(it.id);
    const std::string model_path = (cache / (fid + ".onnx")).string(), rec_path = (cache / (fid + ".json")).string();
    const auto t0 = Clock::now();
    json m;
    std::string status = "measured", reason;
    if (auto cached = read_json(rec_path); cached.ok() && fs::exists(model_path)) {
      m = (*cached)["measure"];
      status = (*cached)["status"].get<std::string>();
      reason = (*cached)["reason"].get<std::string>();
      m["cached"] = true;
    } else if (Clock::now() > deadline) {
      status = "skipped";
      reason = "the time budget was spent";
    } else {
      log(fmt::format("tune [{:.1f}/{:.0f} min] building {}", minutes(Clock::now() - start), o.budget_minutes, it.id));
      Result<std::unique_ptr<ir::Model>> parent = it.parent.empty() ? clone(*original) : onnx::load_model((cache / (file_id(it.parent) + ".onnx")).string());
      Result<std::unique_ptr<ir::Model>> built = parent.status();
      if (parent.ok()) {
        try {  // the libraries do not throw by contract; a bug there fails this candidate, not the search
          built = r->apply(**parent, it.params, ctx);
        } catch (const std::exception& e) {
          built = internal_error("{} failed with an exception: {}", it.kind, e.what());
        }
      }
      Status st = built.ok() ? onnx::save_model(**built, model_path) : built.status();
      Result<json> mr = st.ok() ? measure_model(model_path, evalset, ref, o, deadline) : Result<json>(st);
      if (mr.ok()) {
        m = *mr;
        m["seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
        (void)write_file(rec_path, json{{"status", status}, {"reason", ""}, {"measure", m}}.dump(2));
      } else {
        const bool budget = mr.status().code() == StatusCode::kResourceExhausted;
        status = budget ? "skipped" : "failed";
        reason = mr.status().message();
        if (!budget) (void)write_file(rec_path, json{{"status", status}, {"reason", reason}, {"measure", nullptr}}.dump(2));
        else fs::remove(model_path, ec);
      }
    }
    if (it.id == "fp32" && status != "measured")
      return resource_exhausted("a budget of {} min is too small for even the baseline (fp32 optimized): {}", o.budget_minutes,
                                reason.empty() ? status : reason);
    record(it, status, reason, status == "measured" ? m : json());
    ++done;
    if (status == "measured") {
      const bool ok = meets_quality(m);
      const json& qj = m["quality"];
      log(fmt::format("tune [{:.1f}/{:.0f} min] {:<36} {}  p50 {:.3f} ms  {:.3f} MB{}{}", minutes(Clock::now() - start), o.budget_minutes,
                      it.id,
                      labelled ? fmt::format("acc {:.2f}% ({:+.2f})", 100 * qj["accuracy"].get<double>(), 100 * (qj["accuracy"].get<double>() - base_acc))
                               : fmt::format("SQNR {:.1f} dB", qj["sqnr_db"].get<double>()),
                      m["latency_p50_ms"].get<double>(), m["size_bytes"].get<int64_t>() / 1e6, ok ? "" : "  (breaks the quality constraint)",
                      m.contains("cached") ? "  [cached]" : ""));
      for (auto& k : children(it)) {
        if (ok) queue.push_back(k);
        else record(k, "pruned", fmt::format("not built: {} already breaks the quality constraint", it.id), json());
      }
    } else {
      log(fmt::format("tune [{:.1f}/{:.0f} min] {:<36} {}: {}", minutes(Clock::now() - start), o.budget_minutes, it.id, status, reason));
    }
  }
  if (o.sensitivity && !sensitivity) run_sensitivity();

  // Verdicts, fronts, the best model and its commands.
  for (auto& c : candidates) {
    if (c["status"] != "measured") continue;
    json& m = c["measure"];
    json v = json::array();
    if (!meets_quality(m))
      v.push_back(labelled ? fmt::format("accuracy drop {:.2f} > {}", 100 * (base_acc - m["quality"]["accuracy"].get<double>()), o.max_accuracy_drop)
                           : fmt::format("SQNR {:.1f} dB < {}", m["quality"]["sqnr_db"].get<double>(), o.min_sqnr_db));
    if (o.max_latency_ms > 0 && m["latency_p50_ms"].get<double>() > o.max_latency_ms)
      v.push_back(fmt::format("latency {:.3f} ms > {}", m["latency_p50_ms"].get<double>(), o.max_latency_ms));
    if (o.max_size_mb > 0 && m["size_bytes"].get<int64_t>() / 1e6 > o.max_size_mb)
      v.push_back(fmt::format("size {:.3f} MB > {}", m["size_bytes"].get<int64_t>() / 1e6, o.max_size_mb));
    c["violations"] = v;
    c["meets"] = v.empty();
    c["quality"] = labelled ? 100 * m["quality"]["accuracy"].get<double>() : m["quality"]["sqnr_db"].get<double>();
    // Relative violation (for the best effort): how far each constraint is missed.
    double miss = 0;
    if (labelled && o.max_accuracy_drop >= 0) miss += std::max(0.0, 100 * (base_acc - m["quality"]["accuracy"].get<double>()) - o.max_accuracy_drop) / std::max(o.max_accuracy_drop, 0.1);
    if (!labelled) miss += std::max(0.0, o.min_sqnr_db - m["quality"]["sqnr_db"].get<double>()) / std::max(o.min_sqnr_db, 1.0);
    if (o.max_latency_ms > 0) miss += std::max(0.0, m["latency_p50_ms"].get<double>() / o.max_latency_ms - 1);
    if (o.max_size_mb > 0) miss += std::max(0.0, m["size_bytes"].get<int64_t>() / 1e6 / o.max_size_mb - 1);
    c["miss"] = miss;
  }
  mark_pareto(candidates);
  const int best = pick_best(candidates, o.objective);
  const int effort = best >= 0 ? best : pick_best_effort(candidates);
  auto by_id = [&](const std::string& id) -> const json* {
    for (const auto& c : candidates)
      if (c["id"] == id) return &c;
    return nullptr;
  };
  // Commands: the chain from the original model to the chosen one.
  auto commands_for = [&](const json& c, const std::string& final_name) {
    std::vector<const json*> chain;
    for (const json* p = &c; p; p = p->at("parent") == "original" ? nullptr : by_id(p->at("parent").get<std::string>())) chain.push_back(p);
    std::reverse(chain.begin(), chain.end());
    std::vector<std::string> cmds;
    std::string in = o.model;
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string outp = i + 1 == chain.size() ? final_name : file_id(chain[i]->at("id").get<std::string>()) + ".onnx";
      const Recipe* r = find_recipe(chain[i]->at("kind").get<std::string>());
      for (auto& s : r->commands(in, outp, chain[i]->at("params"), ctx)) cmds.push_back(s);
      in = outp;
    }
    return cmds;
  };
  for (auto& c : candidates)
    if (c["status"] == "measured") c["commands"] = commands_for(c, file_id(c["id"].get<std::string>()) + ".onnx");
  fs::remove_all(out / "candidates", ec);
  fs::create_directories(out / "candidates", ec);
  fs::remove(out / "best.onnx", ec);
  fs::remove(out / "best_effort.onnx", ec);
  for (const auto& c : candidates) {
    if (c.value("pareto", false)) {
      const std::string fid = file_id(c["id"].get<std::string>());
      fs::copy_file(cache / (fid + ".onnx"), out / "candidates" / (fid + ".onnx"), fs::copy_options::overwrite_existing, ec);
      if (ec) return io_error("cannot copy candidate '{}': {}", fid, ec.message());
    }
  }
  json report = {{"model", o.model}, {"eval_data", o.eval_data}, {"eval_samples", evalset.size()},
                 {"quality_metric", labelled ? "accuracy" : "sqnr"}, {"objective", objective_name(o.objective)},
                 {"constraints", {{"max_accuracy_drop", labelled ? json(o.max_accuracy_drop) : json(nullptr)},
                                  {"min_sqnr_db", labelled ? json(nullptr) : json(o.min_sqnr_db)},
                                  {"max_latency_ms", o.max_latency_ms > 0 ? json(o.max_latency_ms) : json(nullptr)},
                                  {"max_size_mb", o.max_size_mb > 0 ? json(o.max_size_mb) : json(nullptr)}}},
                 {"baseline", {{"id", "fp32"}, {"accuracy", labelled ? json(base_acc) : json(nullptr)}}},
                 {"budget_minutes", o.budget_minutes}, {"elapsed_minutes", minutes(Clock::now() - start)},
                 {"threads", o.threads}, {"batch", o.batch}, {"candidates", candidates},
                 {"sensitivity", sensitivity ? *sensitivity : json::array()}, {"met", best >= 0},
                 {"best", best >= 0 ? json(candidates[best]["id"]) : json(nullptr)},
                 {"best_effort", effort >= 0 ? json(candidates[effort]["id"]) : json(nullptr)}};
  if (effort >= 0) {
    const std::string name = best >= 0 ? "best.onnx" : "best_effort.onnx";
    const std::string fid = file_id(candidates[effort]["id"].get<std::string>());
    fs::copy_file(cache / (fid + ".onnx"), out / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return io_error("cannot write '{}': {}", (out / name).string(), ec.message());
    report["best_file"] = (out / name).string();
    report["commands"] = commands_for(candidates[effort], name);
  }
  PARE_RETURN_IF_ERROR(write_file((out / "report.json").string(), report.dump(2)));
  PARE_RETURN_IF_ERROR(write_file((out / "report.html").string(), render_html(report)));
  return report;
}

}  // namespace pare::tune
