// Pareto fronts, the choice of the best candidate, and the report: a self-contained HTML page
// (inline SVG scatter plots, tables, sensitivity bars; no script, no network) and the summary
// table printed on the terminal.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tune/internal.h"

namespace pare::tune {
using nlohmann::json;

namespace {

bool measured(const json& c) { return c.value("status", "") == "measured" && c.contains("measure") && c.contains("quality"); }
double lat(const json& c) { return c["measure"]["latency_p50_ms"].get<double>(); }
double size(const json& c) { return static_cast<double>(c["measure"]["size_bytes"].get<int64_t>()); }
double qual(const json& c) { return c["quality"].get<double>(); }

// a dominates b over (quality ↑, each cost ↓) when no worse everywhere and better somewhere.
bool dominates(const json& a, const json& b, bool use_lat, bool use_size) {
  bool no_worse = qual(a) >= qual(b) && (!use_lat || lat(a) <= lat(b)) && (!use_size || size(a) <= size(b));
  bool better = qual(a) > qual(b) || (use_lat && lat(a) < lat(b)) || (use_size && size(a) < size(b));
  return no_worse && better;
}

std::string esc(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '&': r += "&amp;"; break;
      case '"': r += "&quot;"; break;
      case '\'': r += "&#39;"; break;
      default: r += c;
    }
  }
  return r;
}

std::string fmt_quality(const json& report, double v) {
  return report["quality_metric"] == "accuracy" ? fmt::format("{:.2f}%", v) : fmt::format("{:.1f} dB", v);
}

const json* find(const json& report, const json& id) {
  if (id.is_null()) return nullptr;
  for (const auto& c : report["candidates"])
    if (c["id"] == id) return &c;
  return nullptr;
}

// One scatter plot: x = latency (ms) or size (MB) on a log scale, y = quality.
std::string scatter(const json& report, bool by_latency) {
  const double W = 560, H = 360, L = 64, R = 16, T = 20, B = 48;
  std::vector<const json*> pts;
  for (const auto& c : report["candidates"])
    if (measured(c)) pts.push_back(&c);
  auto xv = [&](const json& c) { return by_latency ? lat(c) : size(c) / 1e6; };
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const json* c : pts) {
    x0 = std::min(x0, xv(*c)), x1 = std::max(x1, xv(*c));
    y0 = std::min(y0, qual(*c)), y1 = std::max(y1, qual(*c));
  }
  if (pts.empty()) x0 = 0.1, x1 = 1, y0 = 0, y1 = 1;
  x0 = std::log10(std::max(x0, 1e-6)) - 0.1, x1 = std::log10(std::max(x1, 1e-6)) + 0.1;
  const double pad = std::max((y1 - y0) * 0.08, 0.05);
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return L + (std::log10(std::max(x, 1e-6)) - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); };
  const std::string title = by_latency ? "quality vs latency p50 (ms, log scale)" : "quality vs size on disk (MB, log scale)";
  std::string s = fmt::format(
      "<svg class=\"plot\" id=\"plot-{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"{}\">\n<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n",
      by_latency ? "latency" : "size", W, H, W, H, esc(title), W, H);
  // Axes and ticks: decades (and 2, 5) on x, 6 steps on y.
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, H - B, W - R, H - B);
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, T, L, H - B);
  for (int e = static_cast<int>(std::floor(x0)); e <= static_cast<int>(std::ceil(x1)); ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, e), lv = std::log10(v);
      if (lv < x0 || lv > x1) continue;
      const double x = px(v);
      s += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#e4e4e4\"/>\n", x, T, x, H - B);
      s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", x, H - B + 15, fmt::format("{:g}", v));
    }
  }
  for (int i = 0; i <= 5; ++i) {
    const double v = y0 + (y1 - y0) * i / 5, y = py(v);
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e4e4e4\"/>\n", L, y, W - R, y);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{:.2f}</text>\n", L - 6, y + 4, v);
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n", (L + W - R) / 2, H - 10,
                   by_latency ? "latency p50 (ms)" : "size on disk (MB)");
  s += fmt::format("<text x=\"14\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>\n",
                   (T + H - B) / 2, (T + H - B) / 2, report["quality_metric"] == "accuracy" ? "accuracy (%)" : "SQNR vs original (dB)");
  // The front as a staircase through its points, sorted by cost.
  const std::string key = by_latency ? "front_latency" : "front_size";
  std::vector<const json*> front;
  for (const json* c : pts)
    if (c->value(key, false)) front.push_back(c);
  std::sort(front.begin(), front.end(), [&](const json* a, const json* b) { return xv(*a) < xv(*b); });
  if (!front.empty()) {
    std::string path;
    for (size_t i = 0; i < front.size(); ++i) {
      const double x = px(xv(*front[i])), y = py(qual(*front[i]));
      path += i == 0 ? fmt::format("M{:.1f},{:.1f}", x, y) : fmt::format(" H{:.1f} V{:.1f}", x, y);
    }
    s += "<path class=\"front\" d=\"" + path + "\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n";
  }
  const std::string best = report["best"].is_null() ? report.value("best_effort", json()).dump() : report["best"].dump();
  for (const json* c : pts) {
    const double x = px(xv(*c)), y = py(qual(*c));
    const bool ok = c->value("meets", false), on = c->value(key, false), is_best = (*c)["id"].dump() == best;
    const std::string tip = fmt::format("{}: {}, {:.3f} ms, {:.3f} MB", (*c)["id"].get<std::string>(), fmt_quality(report, qual(*c)), lat(*c),
                                        size(*c) / 1e6);
    s += fmt::format("<circle class=\"pt{}{}\" data-id=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\">"
                     "<title>{}</title></circle>\n",
                     on ? " on-front" : "", is_best ? " best" : "", esc((*c)["id"].get<std::string>()), x, y, is_best ? 8 : 5,
                     ok ? "#2ca02c" : "#aaaaaa", on ? "#d62728" : "#555", on ? 2 : 1, esc(tip));
    if (on || is_best)
      s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" fill=\"#333\">{}</text>\n", x + 8, y - 6,
                       esc((*c)["id"].get<std::string>()));
  }
  s += "</svg>\n";
  return s;
}

std::string mb(double bytes) { return fmt::format("{:.3f}", bytes / 1e6); }

}  // namespace

void mark_pareto(json& candidates) {
  for (auto& c : candidates) {
    if (!measured(c)) continue;
    bool all = true, by_lat = true, by_size = true;
    for (const auto& d : candidates) {
      if (!measured(d) || &d == &c) continue;
      if (dominates(d, c, true, true)) all = false;
      if (dominates(d, c, true, false)) by_lat = false;
      if (dominates(d, c, false, true)) by_size = false;
    }
    c["pareto"] = all;
    c["front_latency"] = by_lat;
    c["front_size"] = by_size;
  }
}

int pick_best(const json& candidates, Objective objective) {
  int best = -1;
  auto key = [&](const json& c) {
    switch (objective) {
      case Objective::kLatency: return std::make_tuple(lat(c), size(c), -qual(c));
      case Objective::kSize: return std::make_tuple(size(c), lat(c), -qual(c));
      default: return std::make_tuple(-qual(c), lat(c), size(c));
    }
  };
  for (size_t i = 0; i < candidates.size(); ++i) {
    const json& c = candidates[i];
    if (!measured(c) || !c.value("meets", false)) continue;
    if (best < 0 || key(c) < key(candidates[best])) best = static_cast<int>(i);
  }
  return best;
}

int pick_best_effort(const json& candidates) {
  int best = -1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const json& c = candidates[i];
    if (!measured(c)) continue;
    auto key = [](const json& x) { return std::make_tuple(x.value("miss", 0.0), lat(x)); };
    if (best < 0 || key(c) < key(candidates[best])) best = static_cast<int>(i);
  }
  return best;
}

std::string summary_table(const json& report) {
  std::string s = fmt::format("{:<40} {:>10} {:>10} {:>10} {:>10} {:>8}  {}\n", "candidate", report["quality_metric"] == "accuracy" ? "accuracy" : "SQNR",
                              "p50 ms", "p99 ms", "size MB", "front", "verdict");
  for (const auto& c : report["candidates"]) {
    if (!measured(c)) {
      s += fmt::format("{:<40} {:>10} {:>10} {:>10} {:>10} {:>8}  {}: {}\n", c["id"].get<std::string>(), "-", "-", "-", "-", "",
                       c["status"].get<std::string>(), c["reason"].get<std::string>().substr(0, 70));
      continue;
    }
    std::string verdict = c.value("meets", false) ? "meets" : "";
    for (const auto& v : c["violations"]) verdict += (verdict.empty() ? "" : "; ") + v.get<std::string>();
    if (c["id"] == report["best"]) verdict = "BEST  " + verdict;
    s += fmt::format("{:<40} {:>10} {:>10.3f} {:>10.3f} {:>10} {:>8}  {}\n", c["id"].get<std::string>(), fmt_quality(report, qual(c)), lat(c),
                     c["measure"]["latency_p99_ms"].get<double>(), mb(size(c)), c.value("pareto", false) ? "*" : "", verdict);
  }
  const json* base = find(report, "fp32");
  const json* best = find(report, report["met"].get<bool>() ? report["best"] : report.value("best_effort", json()));
  if (!report["met"].get<bool>()) s += "\nNo candidate meets the constraints.";
  if (best && base && measured(*best) && measured(*base)) {
    s += fmt::format("\n{} {}: {} vs {} (fp32), {:.2f}x faster (p50 {:.3f} vs {:.3f} ms), {:.2f}x smaller ({} vs {} MB)\n",
                     report["met"].get<bool>() ? "best" : "best effort", (*best)["id"].get<std::string>(), fmt_quality(report, qual(*best)),
                     fmt_quality(report, qual(*base)), lat(*base) / lat(*best), lat(*best), lat(*base), size(*base) / size(*best), mb(size(*best)),
                     mb(size(*base)));
  }
  return s;
}

std::string render_html(const json& report) {
  const bool met = report.value("met", false);
  const json* base = find(report, "fp32");
  const json* chosen = find(report, met ? report["best"] : report.value("best_effort", json()));
  int n_measured = 0;
  std::vector<std::string> front;
  for (const auto& c : report["candidates"]) {
    if (!measured(c)) continue;
    ++n_measured;
    if (c.value("pareto", false)) front.push_back(c["id"].get<std::string>());
  }
  std::string front_list;
  for (size_t i = 0; i < front.size(); ++i) front_list += (i ? "," : "") + front[i];
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pare tune report</title>\n"
       "<link rel=\"icon\" href=\"data:,\">\n<style>\n"
       "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
       "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
       "td:first-child,th:first-child,td.l{text-align:left}tr.best{background:#e6f4e6;font-weight:bold}tr.fail td{color:#888}"
       ".verdict{padding:8px 12px;border-radius:4px;display:inline-block}.ok{background:#e6f4e6}.bad{background:#fde8e8}"
       ".plots{display:flex;flex-wrap:wrap;gap:16px}pre{background:#f4f4f4;padding:10px;overflow-x:auto;font-size:12px}"
       ".bar{fill:#1f77b4}.bar.low{fill:#d62728}\n</style></head>\n";
  h += fmt::format("<body data-candidates=\"{}\" data-measured=\"{}\" data-best=\"{}\" data-met=\"{}\" data-front=\"{}\">\n",
                   report["candidates"].size(), n_measured, esc(chosen ? (*chosen)["id"].get<std::string>() : ""), met ? "true" : "false",
                   esc(front_list));
  h += "<h1>pare tune: " + esc(report["model"].get<std::string>()) + "</h1>\n<p>";
  h += fmt::format("Eval data <code>{}</code> ({} samples); quality = {}. Objective: <b>{}</b>. Constraints: ", esc(report["eval_data"].get<std::string>()),
                   report["eval_samples"].get<int64_t>(),
                   report["quality_metric"] == "accuracy" ? "top-1 accuracy" : "output SQNR against the original model (no labels)",
                   esc(report["objective"].get<std::string>()));
  std::vector<std::string> cons;
  const json& k = report["constraints"];
  if (!k["max_accuracy_drop"].is_null()) cons.push_back(fmt::format("accuracy drop ≤ {} points", k["max_accuracy_drop"].get<double>()));
  if (!k["min_sqnr_db"].is_null()) cons.push_back(fmt::format("SQNR ≥ {} dB", k["min_sqnr_db"].get<double>()));
  if (!k["max_latency_ms"].is_null()) cons.push_back(fmt::format("latency p50 ≤ {} ms", k["max_latency_ms"].get<double>()));
  if (!k["max_size_mb"].is_null()) cons.push_back(fmt::format("size ≤ {} MB", k["max_size_mb"].get<double>()));
  for (size_t i = 0; i < cons.size(); ++i) h += (i ? ", " : "") + esc(cons[i]);
  h += fmt::format(". Budget {:.1f} min, used {:.1f} min; latency at batch {}, {} threads (pare bench method).</p>\n",
                   report["budget_minutes"].get<double>(), report["elapsed_minutes"].get<double>(), report["batch"].get<int64_t>(),
                   report["threads"].get<int>() == 0 ? std::string("all") : std::to_string(report["threads"].get<int>()));
  if (met && chosen) {
    h += "<p class=\"verdict ok\" id=\"verdict\">Chosen model: <b>" + esc((*chosen)["id"].get<std::string>()) + "</b>";
  } else {
    h += "<p class=\"verdict bad\" id=\"verdict\">No candidate meets the constraints.";
    if (chosen) h += " Best effort (closest to them): <b>" + esc((*chosen)["id"].get<std::string>()) + "</b>";
  }
  if (chosen && base) {
    h += fmt::format(" — {} vs {} for fp32; {:.2f}× faster (p50 {:.3f} vs {:.3f} ms); {:.2f}× smaller ({} vs {} MB).", fmt_quality(report, qual(*chosen)),
                     fmt_quality(report, qual(*base)), lat(*base) / lat(*chosen), lat(*chosen), lat(*base), size(*base) / size(*chosen),
                     mb(size(*chosen)), mb(size(*base)));
  }
  h += "</p>\n<h2>Trade-offs</h2>\n<p>Green: meets every constraint; grey: does not. Red ring and dashed line: the Pareto front "
       "of that plane; large point: the chosen model.</p>\n<div class=\"plots\">\n";
  h += scatter(report, true) + scatter(report, false) + "</div>\n";
  h += "<h2>Candidates</h2>\n<table id=\"candidates\"><tr><th>candidate</th><th>parent</th><th>status</th><th>quality</th><th>agreement</th>"
       "<th>SQNR dB</th><th>p50 ms</th><th>p99 ms</th><th>size MB</th><th>peak memory MB</th><th>vs fp32 speed</th><th>vs fp32 size</th>"
       "<th>Pareto</th><th>verdict</th></tr>\n";
  for (const auto& c : report["candidates"]) {
    const std::string id = c["id"].get<std::string>();
    const bool is_chosen = chosen && (*chosen)["id"] == c["id"];
    if (!measured(c)) {
      h += fmt::format("<tr class=\"fail\" data-id=\"{}\" data-status=\"{}\"><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td>"
                       "<td colspan=\"11\" class=\"l\">{}</td></tr>\n",
                       esc(id), esc(c["status"].get<std::string>()), esc(id), esc(c["parent"].get<std::string>()), esc(c["status"].get<std::string>()),
                       esc(c["reason"].get<std::string>()));
      continue;
    }
    const json& m = c["measure"];
    std::string verdict = c.value("meets", false) ? "meets" : "";
    for (const auto& v : c["violations"]) verdict += (verdict.empty() ? "" : "; ") + v.get<std::string>();
    h += fmt::format("<tr class=\"{}\" data-id=\"{}\" data-status=\"measured\" data-pareto=\"{}\"><td>{}</td><td class=\"l\">{}</td><td class=\"l\">measured{}</td>"
                     "<td>{}</td><td>{:.2f}%</td><td>{:.1f}</td><td>{:.3f}</td><td>{:.3f}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                     "<td class=\"l\">{}</td></tr>\n",
                     is_chosen ? "best" : (c.value("meets", false) ? "" : "fail"), esc(id), c.value("pareto", false) ? "true" : "false", esc(id),
                     esc(c["parent"].get<std::string>()), m.contains("cached") ? " (cached)" : "", fmt_quality(report, qual(c)),
                     100 * m["quality"]["agreement"].get<double>(), m["quality"]["sqnr_db"].get<double>(), lat(c), m["latency_p99_ms"].get<double>(),
                     mb(size(c)), mb(m["peak_memory_bytes"].get<double>()), base ? fmt::format("{:.2f}×", lat(*base) / lat(c)) : "",
                     base ? fmt::format("{:.2f}×", size(*base) / size(c)) : "", c.value("pareto", false) ? "★" : "", esc(verdict));
  }
  h += "</table>\n<h2>Per-layer sensitivity</h2>\n";
  const json& sens = report["sensitivity"];
  if (sens.empty()) {
    h += "<p>Not measured (no time left in the budget, or disabled).</p>\n";
  } else {
    h += "<p>Output SQNR of the fp32 model with only that layer quantized to static int8 (minmax); short red bars are the "
         "layers to keep in float first.</p>\n";
    const double row = 22, w = 760, label_w = 280;
    h += fmt::format("<svg id=\"sensitivity\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">\n", w,
                     row * sens.size() + 10, w, row * sens.size() + 10);
    double worst = 1e300;
    for (const auto& l : sens)
      if (l.contains("sqnr_db")) worst = std::min(worst, l["sqnr_db"].get<double>());
    for (size_t i = 0; i < sens.size(); ++i) {
      const json& l = sens[i];
      const double y = 5 + i * row;
      h += fmt::format("<text x=\"{}\" y=\"{:.0f}\" font-size=\"11\" text-anchor=\"end\">{} ({})</text>\n", label_w - 6, y + 14,
                       esc(l["node"].get<std::string>()), esc(l["op_type"].get<std::string>()));
      if (!l.contains("sqnr_db")) {
        h += fmt::format("<text x=\"{}\" y=\"{:.0f}\" font-size=\"11\">{}</text>\n", label_w, y + 14, esc(l.value("error", "")));
        continue;
      }
      const double db = l["sqnr_db"].get<double>();
      const double bw = std::clamp(db, 0.0, 80.0) / 80.0 * (w - label_w - 70);
      h += fmt::format("<rect class=\"bar{}\" x=\"{}\" y=\"{:.0f}\" width=\"{:.1f}\" height=\"{}\"><title>{:.1f} dB</title></rect>\n",
                       db <= worst + 1e-9 ? " low" : "", label_w, y + 3, bw, row - 6, db);
      h += fmt::format("<text x=\"{:.1f}\" y=\"{:.0f}\" font-size=\"11\">{:.1f} dB</text>\n", label_w + bw + 4, y + 14, db);
    }
    h += "</svg>\n";
  }
  h += "<h2>Reproduce the chosen model</h2>\n";
  if (report.contains("commands")) {
    h += "<pre id=\"commands\">";
    for (const auto& c : report["commands"]) h += esc(c.get<std::string>()) + "\n";
    h += "</pre>\n";
  } else {
    h += "<p>No model was measured.</p>\n";
  }
  h += "</body></html>\n";
  return h;
}

Status rerender(const std::string& outdir) {
  const std::string path = (std::filesystem::path(outdir) / "report.json").string();
  std::ifstream f(path);
  if (!f) return io_error("cannot read '{}' (is '{}' the output folder of pare tune?)", path, outdir);
  std::stringstream ss;
  ss << f.rdbuf();
  json report;
  try {
    report = json::parse(ss.str());
    if (!report.contains("candidates") || !report["candidates"].is_array()) return invalid_input("'{}' is not a pare tune report", path);
    const std::string html = render_html(report);
    std::ofstream o((std::filesystem::path(outdir) / "report.html").string());
    o << html;
    if (!o) return io_error("cannot write the report in '{}'", outdir);
  } catch (const std::exception& e) {
    return invalid_input("'{}' is not a valid pare tune report: {}", path, e.what());
  }
  return ok_status();
}

}  // namespace pare::tune
