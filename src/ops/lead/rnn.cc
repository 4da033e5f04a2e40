// Recurrent ops RNN (7, 14), GRU (7, 14), LSTM (7, 14), ONNX gate order and defaults:
//   RNN:  H = f(X·Wᵢᵀ + H·Rᵢᵀ + Wb + Rb)
//   GRU:  z = f(..z), r = f(..r), h̃ = g(X·Whᵀ + (r⊙H)·Rhᵀ + Rbh + Wbh)  (linear_before_reset: r⊙(H·Rhᵀ + Rbh)),
//         H = (1 − z)⊙h̃ + z⊙H
//   LSTM: i, o, f = f(.. + P⊙C), c̃ = g(..), C = f⊙C + i⊙c̃ (input_forget couples f = 1 − i), H = o⊙h(C)
// Directions forward / reverse / bidirectional; sequence_lens (outputs past a sequence's end
// are 0, its state stops); initial_h / initial_c; clip; activation_alpha/beta; layout 0 and 1.
#include <cmath>

#include "ops/kernel.h"

namespace pare::ops {
namespace {

enum class Cell { kRnn, kGru, kLstm };

struct Act {
  std::string name;
  float alpha = 0, beta = 0;
  double operator()(double x) const {
    if (name == "Sigmoid") return 1 / (1 + std::exp(-x));
    if (name == "Tanh") return std::tanh(x);
    if (name == "Relu") return x > 0 ? x : 0;
    if (name == "Affine") return alpha * x + beta;
    if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
    if (name == "ThresholdedRelu") return x > alpha ? x : 0;
    if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
    if (name == "HardSigmoid") return std::max(0.0, std::min(1.0, alpha * x + beta));
    if (name == "Elu") return x >= 0 ? x : alpha * (std::exp(x) - 1);
    if (name == "Softsign") return x / (1 + std::abs(x));
    if (name == "Softplus") return std::log1p(std::exp(x));
    return x;
  }
};

template <Cell kCell>
class Recurrent final : public Kernel {
 public:
  static constexpr int kGates = kCell == Cell::kLstm ? 4 : kCell == Cell::kGru ? 3 : 1;
  static constexpr int kActs = kCell == Cell::kLstm ? 3 : kCell == Cell::kGru ? 2 : 1;

  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    const ir::Node& n = init.node;
    auto k = std::make_unique<Recurrent>();
    const std::string dir = n.attr_string("direction", "forward");
    if (dir != "forward" && dir != "reverse" && dir != "bidirectional") return invalid_input("{}: direction '{}'", n.describe(), dir);
    k->dirs_ = dir == "bidirectional" ? 2 : 1;
    k->reverse_ = dir == "reverse";
    k->hidden_ = n.attr_int("hidden_size", 0);
    k->clip_ = n.attr_float("clip", 0.0f);
    k->layout_ = n.attr_int("layout", 0);
    k->linear_before_reset_ = n.attr_int("linear_before_reset", 0) != 0;
    k->input_forget_ = n.attr_int("input_forget", 0) != 0;
    auto names = n.attr_strings("activations");
    auto alphas = n.attr_floats("activation_alpha");
    auto betas = n.attr_floats("activation_beta");
    const std::vector<std::string> defaults = kCell == Cell::kLstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                              : kCell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                    : std::vector<std::string>{"Tanh"};
    if (names.empty()) {
      for (int d = 0; d < k->dirs_; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
    }
    if (static_cast<int>(names.size()) != kActs * k->dirs_) return invalid_input("{}: expected {} activations", n.describe(), kActs * k->dirs_);
    for (size_t i = 0; i < names.size(); ++i) {
      Act a{names[i]};
      // Defaults of the parametrized activations (ONNX operator docs).
      if (a.name == "LeakyRelu") a.alpha = 0.01f;
      if (a.name == "ThresholdedRelu" || a.name == "Elu") a.alpha = 1.0f;
      if (a.name == "HardSigmoid") a.alpha = 0.2f, a.beta = 0.5f;
      if (a.name == "ScaledTanh" || a.name == "Affine") a.alpha = 1.0f, a.beta = a.name == "Affine" ? 0.0f : 1.0f;
      if (i < alphas.size()) a.alpha = alphas[i];
      if (i < betas.size()) a.beta = betas[i];
      k->acts_.push_back(a);
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    PARE_ASSIGN_OR_RETURN(const Tensor* r, ctx.required_input(2));
    const Tensor* b = ctx.input(3);
    const Tensor* lens = ctx.input(4);
    const Tensor* h0 = ctx.input(5);
    const Tensor* c0 = kCell == Cell::kLstm ? ctx.input(6) : nullptr;
    const Tensor* p = kCell == Cell::kLstm ? ctx.input(7) : nullptr;
    for (const Tensor* t : {x, w, r, b, h0, c0, p}) {
      if (t && t->dtype() != DataType::kFloat32 && t->dtype() != DataType::kFloat64) return ctx.error("inputs must be float or double");
    }
    if (x->rank() != 3 || w->rank() != 3 || r->rank() != 3) return ctx.error("X, W, R must be 3-D");
    const int64_t seq = layout_ ? x->dim(1) : x->dim(0), batch = layout_ ? x->dim(0) : x->dim(1), in = x->dim(2);
    const int64_t h = hidden_ > 0 ? hidden_ : r->dim(2);
    if (w->dim(0) != dirs_ || w->dim(1) != kGates * h || w->dim(2) != in) return ctx.error("W is {}, expected [{}, {}, {}]", w->type_string(), dirs_, kGates * h, in);
    if (r->dim(0) != dirs_ || r->dim(1) != kGates * h || r->dim(2) != h) return ctx.error("R is {}, expected [{}, {}, {}]", r->type_string(), dirs_, kGates * h, h);
    if (b && (b->rank() != 2 || b->dim(0) != dirs_ || b->dim(1) != 2 * kGates * h)) return ctx.error("B is {}", b->type_string());
    if (p && (p->rank() != 2 || p->dim(0) != dirs_ || p->dim(1) != 3 * h)) return ctx.error("P is {}", p->type_string());
    for (const Tensor* s : {h0, c0}) {
      if (s && (s->rank() != 3 || s->numel() != dirs_ * batch * h)) return ctx.error("initial state is {}", s->type_string());
    }
    std::vector<int64_t> seq_len(static_cast<size_t>(batch), seq);
    if (lens) {
      if (lens->numel() != batch) return ctx.error("sequence_lens has {} values for batch {}", lens->numel(), batch);
      for (int64_t i = 0; i < batch; ++i) {
        seq_len[i] = lens->int_at(i);
        if (seq_len[i] < 0 || seq_len[i] > seq) return ctx.error("sequence_lens[{}] = {} outside [0, {}]", i, seq_len[i], seq);
      }
    }
    const DataType dt = x->dtype();
    Shape ys = layout_ ? Shape{batch, seq, dirs_, h} : Shape{seq, dirs_, batch, h};
    Shape hs = layout_ ? Shape{batch, dirs_, h} : Shape{dirs_, batch, h};
    Tensor *y = nullptr, *yh = nullptr, *yc = nullptr;
    if (ctx.output_requested(0)) {
      PARE_ASSIGN_OR_RETURN(y, ctx.allocate_output(0, dt, ys));
    }
    if (ctx.output_requested(1)) {
      PARE_ASSIGN_OR_RETURN(yh, ctx.allocate_output(1, dt, hs));
    }
    if (kCell == Cell::kLstm && ctx.output_requested(2)) {
      PARE_ASSIGN_OR_RETURN(yc, ctx.allocate_output(2, dt, hs));
    }
    auto get = [&](const Tensor* t, int64_t i) { return t->float_at(i); };
    auto put = [&](Tensor* t, int64_t i, double v) {
      if (dt == DataType::kFloat32) t->data<float>()[i] = static_cast<float>(v);
      else t->data<double>()[i] = v;
    };
    auto xat = [&](int64_t t, int64_t bi, int64_t k) { return get(x, layout_ ? (bi * seq + t) * in + k : (t * batch + bi) * in + k); };
    auto state_at = [&](int64_t d, int64_t bi) { return layout_ ? (bi * dirs_ + d) * h : (d * batch + bi) * h; };
    for (int64_t d = 0; d < dirs_; ++d) {
      const bool rev = reverse_ || d == 1;
      const Act* act = &acts_[static_cast<size_t>(d * kActs)];
      const int64_t wo = d * kGates * h * in, ro = d * kGates * h * h, bo = d * 2 * kGates * h;
      for (int64_t bi = 0; bi < batch; ++bi) {
        std::vector<double> H(static_cast<size_t>(h), 0.0), C(static_cast<size_t>(h), 0.0), gates(static_cast<size_t>(kGates * h));
        for (int64_t j = 0; j < h; ++j) {
          if (h0) H[j] = get(h0, state_at(d, bi) + j);
          if (c0) C[j] = get(c0, state_at(d, bi) + j);
        }
        for (int64_t step = 0; step < seq_len[bi]; ++step) {
          const int64_t t = rev ? seq_len[bi] - 1 - step : step;
          // gates = X·Wᵀ + Wb (+ H·Rᵀ + Rb, except GRU's hidden gate handled below)
          for (int64_t gi = 0; gi < kGates * h; ++gi) {
            double s = b ? get(b, bo + gi) : 0.0;
            for (int64_t k = 0; k < in; ++k) s += xat(t, bi, k) * get(w, wo + gi * in + k);
            const bool gru_hidden = kCell == Cell::kGru && gi >= 2 * h;
            if (!gru_hidden) {
              s += b ? get(b, bo + kGates * h + gi) : 0.0;
              for (int64_t k = 0; k < h; ++k) s += H[k] * get(r, ro + gi * h + k);
            }
            gates[gi] = s;
          }
          auto clip = [&](double v) { return clip_ > 0 ? std::max<double>(-clip_, std::min<double>(clip_, v)) : v; };
          if constexpr (kCell == Cell::kRnn) {
            for (int64_t j = 0; j < h; ++j) H[j] = act[0](clip(gates[j]));
          } else if constexpr (kCell == Cell::kGru) {
            std::vector<double> z(h), rr(h), nh(h);
            for (int64_t j = 0; j < h; ++j) {
              z[j] = act[0](clip(gates[j]));
              rr[j] = act[0](clip(gates[h + j]));
            }
            for (int64_t j = 0; j < h; ++j) {
              const int64_t gi = 2 * h + j;
              double rec = 0;
              if (linear_before_reset_) {
                for (int64_t k = 0; k < h; ++k) rec += H[k] * get(r, ro + gi * h + k);
                rec = rr[j] * (rec + (b ? get(b, bo + kGates * h + gi) : 0.0));
              } else {
                for (int64_t k = 0; k < h; ++k) rec += rr[k] * H[k] * get(r, ro + gi * h + k);
                rec += b ? get(b, bo + kGates * h + gi) : 0.0;
              }
              nh[j] = act[1](clip(gates[gi] + rec));
            }
            for (int64_t j = 0; j < h; ++j) H[j] = (1 - z[j]) * nh[j] + z[j] * H[j];
          } else {
            // ONNX LSTM gate order: i, o, f, c; peepholes P = [Pi, Po, Pf].
            for (int64_t j = 0; j < h; ++j) {
              const double pi = p ? get(p, d * 3 * h + j) : 0, po = p ? get(p, d * 3 * h + h + j) : 0, pf = p ? get(p, d * 3 * h + 2 * h + j) : 0;
              const double i = act[0](clip(gates[j] + pi * C[j]));
              double f = act[0](clip(gates[2 * h + j] + pf * C[j]));
              if (input_forget_) f = 1 - i;
              const double c = act[1](clip(gates[3 * h + j]));
              C[j] = f * C[j] + i * c;
              const double o = act[0](clip(gates[h + j] + po * C[j]));
              H[j] = o * act[2](C[j]);
            }
          }
          if (y) {
            for (int64_t j = 0; j < h; ++j) put(y, (layout_ ? ((bi * seq + t) * dirs_ + d) * h : ((t * dirs_ + d) * batch + bi) * h) + j, H[j]);
          }
        }
        for (int64_t j = 0; j < h; ++j) {
          if (yh) put(yh, state_at(d, bi) + j, H[j]);
          if (yc) put(yc, state_at(d, bi) + j, C[j]);
        }
      }
    }
    return ok_status();
  }

 private:
  int dirs_ = 1;
  bool reverse_ = false, linear_before_reset_ = false, input_forget_ = false;
  int64_t hidden_ = 0, layout_ = 0;
  float clip_ = 0;
  std::vector<Act> acts_;
};

}  // namespace

void register_RNN(KernelRegistry& r) { r.add({"RNN", "", 7, kMaxOpset, &make_kernel<Recurrent<Cell::kRnn>>}); }
void register_GRU(KernelRegistry& r) { r.add({"GRU", "", 7, kMaxOpset, &make_kernel<Recurrent<Cell::kGru>>}); }
void register_LSTM(KernelRegistry& r) { r.add({"LSTM", "", 7, kMaxOpset, &make_kernel<Recurrent<Cell::kLstm>>}); }

}  // namespace pare::ops
