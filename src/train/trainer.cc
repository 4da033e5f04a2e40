#include "train/trainer.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <map>

#include "onnx/onnx.h"
#include "runtime/session.h"

namespace pare::train {
namespace {

constexpr const char* kStatePrefix = "pare_train_state/";
constexpr const char* kEpochKey = "pare.train.epoch";
constexpr const char* kHintStatePrefix = "hint/";  // hint projections (after kStatePrefix)

void set_metadata(ir::Model& m, const std::string& key, const std::string& value) {
  for (auto& kv : m.metadata) {
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  }
  m.metadata.push_back({key, value});
}

Tensor copy_of(const Tensor& t) {
  Tensor c = Tensor::create(t.dtype(), t.shape()).value();
  std::copy_n(static_cast<const uint8_t*>(t.raw_data()), t.nbytes(), static_cast<uint8_t*>(c.raw_data()));
  return c;
}

int64_t static_classes(const ir::Model& m) {
  const ir::Graph& g = *m.graph;
  if (g.outputs().empty()) return -1;
  const auto& t = g.outputs()[0]->type();
  if (t.kind != ir::TypeInfo::Kind::kTensor || !t.shape || t.shape->size() != 2 || !(*t.shape)[1].known()) return -1;
  return (*t.shape)[1].value;
}

// Removes the optimizer state initializers (returned by name) from a checkpoint.
std::map<std::string, Tensor> take_state(ir::Model& m) {
  std::map<std::string, Tensor> state;
  ir::Graph& g = *m.graph;
  std::vector<ir::Value*> drop;
  for (ir::Value* v : g.initializers()) {
    if (v->name().rfind(kStatePrefix, 0) == 0) {
      state[v->name().substr(std::string(kStatePrefix).size())] = *v->initializer();
      drop.push_back(v);
    }
  }
  for (ir::Value* v : drop) {
    v->clear_initializer();
    auto& ins = g.inputs();
    ins.erase(std::remove(ins.begin(), ins.end(), v), ins.end());
  }
  g.remove_dead_values();
  return state;
}

}  // namespace

int64_t completed_epochs(const ir::Model& model) {
  for (const auto& [k, v] : model.metadata) {
    if (k == kEpochKey) return std::strtoll(v.c_str(), nullptr, 10);
  }
  return 0;
}

Status validate_data(const ir::Model& model, const eval::Dataset& data, const std::string& what) {
  const ir::Graph& g = *model.graph;
  const ir::Value* x = nullptr;
  for (const ir::Value* v : g.inputs()) {
    if (!v->initializer()) {
      x = v;
      break;
    }
  }
  if (!x) return invalid_model("the model has no data input");
  if (data.size() == 0) return invalid_input("{} is empty", what);
  const auto& t = x->type();
  if (t.kind == ir::TypeInfo::Kind::kTensor && t.shape) {
    const auto& dims = *t.shape;
    bool match = static_cast<int64_t>(dims.size()) == data.x.rank();
    for (size_t i = 1; match && i < dims.size(); ++i) match = !dims[i].known() || dims[i].value == data.x.dim(static_cast<int64_t>(i));
    if (!match) {
      Shape sample(data.x.shape().begin() + 1, data.x.shape().end());
      return invalid_input("{}: samples of shape {} do not match the model input '{}' {}", what, shape_to_string(sample), x->name(), t.to_string());
    }
  }
  const int64_t k = static_classes(model);
  const int64_t* y = data.y.data<int64_t>();
  for (int64_t i = 0; i < data.size(); ++i) {
    if (y[i] < 0 || (k > 0 && y[i] >= k)) {
      return invalid_input("{}: label {} of sample {} is out of range [0, {})", what, y[i], i, k > 0 ? std::to_string(k) : "classes");
    }
  }
  return ok_status();
}

Result<std::pair<double, double>> evaluate(const ir::Model& model, const eval::Dataset& data, int num_threads) {
  PARE_ASSIGN_OR_RETURN(auto copy, clone_model(model));
  runtime::SessionOptions so;
  so.num_threads = num_threads;
  PARE_ASSIGN_OR_RETURN(auto s, runtime::Session::create(std::move(copy), so));
  const std::string in = s->inputs()[0].name;
  const int64_t batch = 256, row = data.x.numel() / data.size();
  int64_t correct = 0;
  double nll = 0;
  for (int64_t b = 0; b < data.size(); b += batch) {
    const int64_t n = std::min(batch, data.size() - b);
    Shape sh = data.x.shape();
    sh[0] = n;
    PARE_ASSIGN_OR_RETURN(Tensor x, Tensor::create(DataType::kFloat32, sh));
    std::copy_n(data.x.data<float>() + b * row, n * row, x.data<float>());
    PARE_ASSIGN_OR_RETURN(auto out, s->run({{in, RunValue(x)}}));
    const Tensor& z = out[0].tensor;
    if (z.rank() != 2 || z.dim(0) != n || z.dtype() != DataType::kFloat32) return invalid_model("output must be float logits [batch, classes], got {}", z.type_string());
    const int64_t k = z.dim(1);
    for (int64_t i = 0; i < n; ++i) {
      const float* r = z.data<float>() + i * k;
      const int64_t label = data.y.data<int64_t>()[b + i];
      if (label < 0 || label >= k) return invalid_input("label {} of sample {} is out of range [0, {})", label, b + i, k);
      int64_t arg = 0;
      double mx = r[0];
      for (int64_t j = 1; j < k; ++j) {
        if (r[j] > r[arg]) arg = j;
        mx = std::max<double>(mx, r[j]);
      }
      double se = 0;
      for (int64_t j = 0; j < k; ++j) se += std::exp(r[j] - mx);
      nll += -(r[label] - mx - std::log(se));
      correct += arg == label;
    }
  }
  return std::make_pair(static_cast<double>(correct) / data.size(), nll / data.size());
}

Result<TrainResult> train_model(ir::Model& model, const eval::Dataset& train, const eval::Dataset* val, const TrainOptions& o) {
  if (o.epochs < 1 || o.batch < 1) return invalid_input("epochs and batch must be ≥ 1");
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) return invalid_input("label smoothing must be in [0, 1)");
  if (o.teacher && !(o.temperature > 0 && o.alpha >= 0 && o.alpha <= 1)) return invalid_input("distillation needs temperature > 0 and alpha in [0, 1]");
  std::map<std::string, Tensor> saved_state = take_state(model);
  const int64_t first_epoch = o.resume ? completed_epochs(model) : 0;
  if (o.resume && first_epoch >= o.epochs) {
    return invalid_input("the checkpoint already completed {} epochs; ask for more with --epochs", first_epoch);
  }
  PARE_RETURN_IF_ERROR(validate_data(model, train, "training data"));
  if (val) PARE_RETURN_IF_ERROR(validate_data(model, *val, "validation data"));

  // Class count: the output's static shape, else one forward run on the first sample.
  int64_t k = static_classes(model);
  if (k <= 0) {
    PARE_ASSIGN_OR_RETURN(auto probe_model, clone_model(model));
    PARE_ASSIGN_OR_RETURN(auto probe, runtime::Session::create(std::move(probe_model)));
    Shape s1 = train.x.shape();
    s1[0] = 1;
    PARE_ASSIGN_OR_RETURN(Tensor x1, Tensor::create(DataType::kFloat32, s1));
    std::copy_n(train.x.data<float>(), x1.numel(), x1.data<float>());
    PARE_ASSIGN_OR_RETURN(auto out, probe->run({{probe->inputs()[0].name, RunValue(x1)}}));
    if (out[0].tensor.rank() != 2) return invalid_model("output must be logits [batch, classes], got {}", out[0].tensor.type_string());
    k = out[0].tensor.dim(1);
    for (const eval::Dataset* d : {&train, val}) {
      for (int64_t i = 0; d && i < d->size(); ++i) {
        const int64_t label = d->y.data<int64_t>()[i];
        if (label >= k) return invalid_input("{}: label {} of sample {} is out of range [0, {})", d == &train ? "training data" : "validation data", label, i, k);
      }
    }
  }
  TrainGraphOptions go;
  go.loss = o.loss;
  go.temperature = o.teacher ? o.temperature : 0;
  go.seed = o.seed;
  if (!o.hints.empty()) {
    if (!o.teacher) return invalid_input("a hint loss needs a teacher");
    if (!(o.hint_weight >= 0 && std::isfinite(o.hint_weight))) return invalid_input("the hint weight must be finite and ≥ 0");
    // The teacher features' per-sample shapes, from the teacher on the first sample.
    Shape s1 = train.x.shape();
    s1[0] = 1;
    PARE_ASSIGN_OR_RETURN(Tensor x1, Tensor::create(DataType::kFloat32, s1));
    std::copy_n(train.x.data<float>(), x1.numel(), x1.data<float>());
    PARE_ASSIGN_OR_RETURN(auto probe, o.teacher(x1, {0}));
    if (probe.size() != 1 + o.hints.size()) return invalid_input("the teacher gave {} outputs for {} hints", probe.size(), o.hints.size());
    for (size_t i = 0; i < o.hints.size(); ++i) {
      const Tensor& f = probe[1 + i];
      if (f.dtype() != DataType::kFloat32 || f.rank() < 2 || f.dim(0) != 1) {
        return invalid_input("hint '{}': the teacher value is {}, not a float feature [batch, channels, …]", o.hints[i].teacher, f.type_string());
      }
      go.hints.push_back({o.hints[i].student, std::vector<int64_t>(f.shape().begin() + 1, f.shape().end())});
    }
  }
  PARE_ASSIGN_OR_RETURN(TrainingGraph tg, build_training_graph(model, go));
  runtime::SessionOptions so;
  so.num_threads = o.num_threads;
  PARE_ASSIGN_OR_RETURN(auto session, runtime::Session::create(std::move(tg.model), so));

  ir::Graph& g = *model.graph;
  std::vector<Tensor> params;
  for (const std::string& p : tg.params) params.push_back(copy_of(*g.find_local_value(p)->initializer()));
  for (size_t i = 0; i < tg.hint_params.size(); ++i) {
    auto it = first_epoch > 0 ? saved_state.find(kHintStatePrefix + tg.hint_params[i]) : saved_state.end();
    if (it != saved_state.end() && it->second.shape() != tg.hint_init[i].shape()) {
      return invalid_input("the checkpoint's hint projection '{}' is {}, expected {}", tg.hint_params[i], it->second.type_string(), tg.hint_init[i].type_string());
    }
    params.push_back(it != saved_state.end() ? copy_of(it->second) : std::move(tg.hint_init[i]));
    if (it != saved_state.end()) saved_state.erase(it);
  }
  PARE_ASSIGN_OR_RETURN(Optimizer opt, Optimizer::create(o.optimizer, params));
  if (first_epoch > 0 && !saved_state.empty()) PARE_RETURN_IF_ERROR(opt.restore(saved_state));
  std::vector<Tensor> running;  // BN running mean/var pairs
  for (const auto& bn : tg.batchnorms) {
    running.push_back(copy_of(*g.find_local_value(bn.running_mean)->initializer()));
    running.push_back(copy_of(*g.find_local_value(bn.running_var)->initializer()));
  }
  std::vector<std::string> outputs{kLoss, tg.logits};
  outputs.insert(outputs.end(), tg.grads.begin(), tg.grads.end());
  outputs.insert(outputs.end(), tg.hint_grads.begin(), tg.hint_grads.end());
  for (const auto& bn : tg.batchnorms) {
    outputs.push_back(bn.batch_mean);
    outputs.push_back(bn.batch_var);
  }

  // Writes current weights (and optionally the optimizer state) into `model`.
  auto sync_model = [&](ir::Model& m, int64_t epochs_done, bool with_state) {
    ir::Graph& mg = *m.graph;
    for (size_t i = 0; i < tg.params.size(); ++i) mg.find_local_value(tg.params[i])->set_initializer(copy_of(params[i]));
    for (size_t i = 0; i < tg.batchnorms.size(); ++i) {
      mg.find_local_value(tg.batchnorms[i].running_mean)->set_initializer(copy_of(running[2 * i]));
      mg.find_local_value(tg.batchnorms[i].running_var)->set_initializer(copy_of(running[2 * i + 1]));
    }
    set_metadata(m, kEpochKey, std::to_string(epochs_done));
    if (with_state) {
      for (auto& [k, t] : opt.state()) mg.add_initializer(kStatePrefix + k, t);
      for (size_t i = 0; i < tg.hint_params.size(); ++i) {
        mg.add_initializer(kStatePrefix + std::string(kHintStatePrefix) + tg.hint_params[i], copy_of(params[tg.params.size() + i]));
      }
    }
  };
  auto save_checkpoint = [&](int64_t epochs_done) -> Status {
    if (o.checkpoint.empty()) return ok_status();
    PARE_ASSIGN_OR_RETURN(auto ck, clone_model(model));
    sync_model(*ck, epochs_done, true);
    return onnx::save_model(*ck, o.checkpoint);
  };

  Batcher batcher(train, o.batch, o.seed, true, o.augment);
  const int64_t steps_per_epoch = batcher.batches_per_epoch(), total_steps = steps_per_epoch * o.epochs;
  std::mt19937_64 dropout_rng;
  TrainResult result;
  result.epochs_done = first_epoch;
  Tensor x, y, target, soft;
  std::vector<int64_t> idx;
  const float T = o.temperature, alpha = o.teacher ? o.alpha : 0.0f;
  for (int64_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    batcher.start_epoch(epoch);
    dropout_rng.seed(o.seed * 31 + static_cast<uint64_t>(epoch) * 7919 + 17);
    const auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, teacher_correct = 0, b = 0;
    float lr = 0;
    for (;;) {
      if (o.stop && o.stop->load()) {
        result.interrupted = true;
        PARE_RETURN_IF_ERROR(save_checkpoint(epoch));
        sync_model(model, epoch, false);
        return result;
      }
      PARE_ASSIGN_OR_RETURN(bool more, batcher.next(x, y, idx));
      if (!more) break;
      const int64_t n = x.dim(0);
      PARE_ASSIGN_OR_RETURN(lr, learning_rate(o.schedule, epoch * steps_per_epoch + b, total_steps));
      std::vector<std::pair<std::string, RunValue>> feeds;
      feeds.push_back({tg.input, RunValue(x)});
      for (size_t i = 0; i < params.size(); ++i) {
        const bool hint = i >= tg.params.size();
        feeds.push_back({hint ? tg.hint_params[i - tg.params.size()] : tg.params[i], RunValue(params[i])});
      }
      for (const std::string& s : tg.dropout_seeds) {
        feeds.push_back({s, RunValue(Tensor::scalar<int64_t>(static_cast<int64_t>(dropout_rng() >> 1)))});
      }
      Tensor teacher_logits;
      double soft_entropy = 0;  // Σ s·log p_t: the loss minus it is α·T²·KL + (1 − α)·CE
      if (o.teacher) {
        PARE_ASSIGN_OR_RETURN(auto touts, o.teacher(x, idx));
        if (touts.size() != 1 + tg.hints.size()) return invalid_model("the teacher gave {} outputs, expected {}", touts.size(), 1 + tg.hints.size());
        teacher_logits = touts[0];
        for (size_t i = 0; i < tg.hints.size(); ++i) {
          Shape want{n};
          want.insert(want.end(), go.hints[i].teacher_shape.begin(), go.hints[i].teacher_shape.end());
          if (touts[1 + i].shape() != want || touts[1 + i].dtype() != DataType::kFloat32) {
            return invalid_model("hint '{}': the teacher feature is {}, expected {}", o.hints[i].teacher, touts[1 + i].type_string(), shape_to_string(want));
          }
          feeds.push_back({tg.hints[i].target, RunValue(touts[1 + i])});
          feeds.push_back({tg.hints[i].scale, RunValue(Tensor::scalar<float>(o.hint_weight / static_cast<float>(touts[1 + i].numel())))});
        }
      }
      if (o.loss == LossKind::kMse) {
        PARE_ASSIGN_OR_RETURN(target, Tensor::create(DataType::kFloat32, {n, k}));
        for (int64_t i = 0; i < n; ++i) target.data<float>()[i * k + y.data<int64_t>()[i]] = 1.0f;
        feeds.push_back({kMseScale, RunValue(Tensor::scalar<float>(1.0f / static_cast<float>(n * k)))});
      } else {
        PARE_ASSIGN_OR_RETURN(target, Tensor::create(DataType::kFloat32, {n, k}));
        const float w = (1.0f - alpha) / static_cast<float>(n), eps = o.label_smoothing;
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t j = 0; j < k; ++j) target.data<float>()[i * k + j] = w * eps / static_cast<float>(k);
          target.data<float>()[i * k + y.data<int64_t>()[i]] += w * (1.0f - eps);
        }
      }
      feeds.push_back({kTarget, RunValue(target)});
      if (o.teacher) {
        if (teacher_logits.rank() != 2 || teacher_logits.dim(0) != n || teacher_logits.dim(1) != k) {
          return invalid_model("teacher logits {} do not match the student's [{}, {}]", teacher_logits.type_string(), n, k);
        }
        PARE_ASSIGN_OR_RETURN(soft, Tensor::create(DataType::kFloat32, {n, k}));
        const float w = alpha * T * T / static_cast<float>(n);
        for (int64_t i = 0; i < n; ++i) {
          const float* z = teacher_logits.data<float>() + i * k;
          teacher_correct += std::max_element(z, z + k) - z == y.data<int64_t>()[i];
          float* s = soft.data<float>() + i * k;
          double mx = z[0], sum = 0;
          for (int64_t j = 1; j < k; ++j) mx = std::max<double>(mx, z[j]);
          for (int64_t j = 0; j < k; ++j) sum += (s[j] = static_cast<float>(std::exp((z[j] - mx) / T)));
          for (int64_t j = 0; j < k; ++j) {
            const double pj = s[j] / sum;
            s[j] = static_cast<float>(pj * w);
            if (pj > 0) soft_entropy += pj * w * std::log(pj);
          }
        }
        feeds.push_back({kSoftTarget, RunValue(soft)});
      }
      PARE_ASSIGN_OR_RETURN(auto out, session->run(feeds, outputs));
      const double loss = out[0].tensor.data<float>()[0] + soft_entropy;
      if (!std::isfinite(loss)) {
        return invalid_input("loss became {} at epoch {} batch {} (lr {}); stopped. {}", loss, epoch + 1, b + 1, lr,
                             o.checkpoint.empty() ? std::string("no checkpoint was requested")
                             : epoch > first_epoch || first_epoch > 0
                                 ? "the last good checkpoint is '" + o.checkpoint + "' (" + std::to_string(epoch) + " epochs)"
                                 : "no epoch completed, so no checkpoint was written");
      }
      std::vector<Tensor> grads;
      for (size_t i = 0; i < params.size(); ++i) grads.push_back(out[2 + i].tensor);
      PARE_RETURN_IF_ERROR(opt.step(params, grads, lr).status());
      if (o.after_step) PARE_RETURN_IF_ERROR(o.after_step(tg.params, params, epoch * steps_per_epoch + b + 1, total_steps));
      for (size_t i = 0; i < tg.batchnorms.size(); ++i) {
        const float mom = tg.batchnorms[i].momentum;
        const Tensor& bm = out[2 + params.size() + 2 * i].tensor;
        const Tensor& bv = out[3 + params.size() + 2 * i].tensor;
        float* rm = running[2 * i].data<float>();
        float* rv = running[2 * i + 1].data<float>();
        for (int64_t c = 0; c < bm.numel(); ++c) {
          rm[c] = mom * rm[c] + (1 - mom) * bm.data<float>()[c];
          rv[c] = mom * rv[c] + (1 - mom) * bv.data<float>()[c];  // unbiased batch variance
        }
      }
      const Tensor& z = out[1].tensor;
      for (int64_t i = 0; i < n; ++i) {
        const float* r = z.data<float>() + i * k;
        correct += std::max_element(r, r + k) - r == y.data<int64_t>()[i];
      }
      loss_sum += loss * n;
      seen += n;
      ++b;
      if (o.on_step) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        o.on_step({epoch + 1, o.epochs, b, steps_per_epoch, loss_sum / seen, static_cast<double>(correct) / seen, seen / std::max(secs, 1e-9), lr});
      }
    }
    EpochReport rep;
    rep.epoch = epoch + 1;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rep.loss = loss_sum / std::max<int64_t>(1, seen);
    rep.accuracy = static_cast<double>(correct) / std::max<int64_t>(1, seen);
    if (o.teacher) rep.teacher_accuracy = static_cast<double>(teacher_correct) / std::max<int64_t>(1, seen);
    rep.images_per_second = seen / std::max(rep.seconds, 1e-9);
    rep.lr = lr;
    sync_model(model, epoch + 1, false);
    if (val) {
      PARE_ASSIGN_OR_RETURN(auto va, evaluate(model, *val, o.num_threads));
      rep.val_accuracy = va.first;
      rep.val_loss = va.second;
    }
    PARE_RETURN_IF_ERROR(save_checkpoint(epoch + 1));
    result.epochs.push_back(rep);
    result.epochs_done = epoch + 1;
    if (o.on_epoch) o.on_epoch(rep);
  }
  return result;
}

}  // namespace pare::train
