// pare_conformance: runs ONNX's backend test cases (model.onnx + test_data_set_*/{input,output}_N.pb)
// through pare and compares outputs as ONNX's runner does (rtol 1e-3, atol 1e-7).
// Each case runs in a forked child with a time limit, so a crash or hang in one case is
// reported as such and does not stop the suite.
//
//   pare_conformance --dir /usr/share/libonnx-testdata/data/node [--filter REGEX]
//                    [--expect-pass FILE] [--write-passing FILE] [--markdown FILE]
//                    [--not-applicable FILE] [--quiet] [--timeout S] [--opt-level N]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>

#include "compare.h"
#include "onnx/onnx.h"
#include "runtime/session.h"

namespace fs = std::filesystem;
using namespace pare;

namespace {

enum class Outcome { kPass, kFail, kUnsupported, kCrash, kTimeout, kNotApplicable };
const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "PASS";
    case Outcome::kFail: return "FAIL";
    case Outcome::kUnsupported: return "UNSUPPORTED";
    case Outcome::kCrash: return "CRASH";
    case Outcome::kTimeout: return "TIMEOUT";
    case Outcome::kNotApplicable: return "N/A";
  }
  return "?";
}

struct CaseResult {
  std::string suite, name;
  Outcome outcome;
  std::string detail;
};

// ONNX 1.12's test data stores bfloat16 tensors as uint16 (the raw bits): view such data
// as the dtype the model declares.
RunValue as_declared(RunValue v, const ir::TypeInfo& t) {
  if (v.is_tensor() && t.kind == ir::TypeInfo::Kind::kTensor && t.dtype == DataType::kBFloat16 &&
      v.tensor.dtype() == DataType::kUInt16) {
    auto view = Tensor::view(DataType::kBFloat16, v.tensor.shape(), v.tensor.buffer(), 0);
    if (view.ok()) return RunValue(*view);
  }
  return v;
}

// Runs one case in this process; returns (outcome, detail).
int g_opt_level = runtime::SessionOptions{}.opt_level;

std::pair<Outcome, std::string> run_case(const fs::path& dir) {
  runtime::SessionOptions options;
  options.opt_level = g_opt_level;
  auto session = runtime::Session::load((dir / "model.onnx").string(), options);
  if (!session.ok()) {
    const auto code = session.status().code();
    return {code == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail, session.status().to_string()};
  }
  auto& s = **session;
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {Outcome::kFail, "no test_data_set_* folders"};
  for (const auto& set : sets) {
    std::vector<std::pair<std::string, RunValue>> feeds;
    for (size_t i = 0;; ++i) {
      fs::path p = set / ("input_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) break;
      if (i >= s.inputs().size()) return {Outcome::kFail, "more input files than model inputs"};
      const auto& info = s.inputs()[i];
      auto kind = info.type.kind;
      auto v = onnx::load_value_pb(p.string(), kind == ir::TypeInfo::Kind::kSequence,
                                   kind == ir::TypeInfo::Kind::kOptional);
      if (!v.ok()) return {Outcome::kFail, v.status().to_string()};
      feeds.emplace_back(info.name, as_declared(std::move(v).value(), info.type));
    }
    auto outs = s.run(feeds);
    if (!outs.ok()) {
      const auto code = outs.status().code();
      return {code == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail, outs.status().to_string()};
    }
    for (size_t i = 0; i < s.outputs().size(); ++i) {
      fs::path p = set / ("output_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) continue;
      auto kind = s.outputs()[i].type.kind;
      auto e = onnx::load_value_pb(p.string(), kind == ir::TypeInfo::Kind::kSequence,
                                   kind == ir::TypeInfo::Kind::kOptional);
      if (!e.ok()) return {Outcome::kFail, e.status().to_string()};
      std::string diff = testing::compare_values((*outs)[i], as_declared(*e, s.outputs()[i].type), testing::Tolerance{});
      if (!diff.empty()) {
        return {Outcome::kFail, fmt::format("{}: output '{}': {}", set.filename().string(), s.outputs()[i].name, diff)};
      }
    }
  }
  return {Outcome::kPass, ""};
}

// Forks, runs the case in the child, reads "<outcome>\n<detail>" back through a pipe.
CaseResult run_isolated(const fs::path& dir, const std::string& suite, int timeout_s) {
  CaseResult r{suite, dir.filename().string(), Outcome::kCrash, ""};
  int fds[2];
  if (pipe(fds) != 0) {
    auto [o, d] = run_case(dir);
    r.outcome = o;
    r.detail = d;
    return r;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(static_cast<unsigned>(timeout_s));
    auto [o, d] = run_case(dir);
    std::string msg = std::to_string(static_cast<int>(o)) + "\n" + d;
    ssize_t w = write(fds[1], msg.data(), msg.size());
    (void)w;
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    r.outcome = WTERMSIG(status) == SIGALRM ? Outcome::kTimeout : Outcome::kCrash;
    r.detail = r.outcome == Outcome::kTimeout ? fmt::format("exceeded {} s", timeout_s)
                                              : fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return r;
  }
  size_t nl = msg.find('\n');
  if (nl == std::string::npos) return r;
  r.outcome = static_cast<Outcome>(std::stoi(msg.substr(0, nl)));
  r.detail = msg.substr(nl + 1);
  return r;
}

std::set<std::string> read_list(const std::string& path) {
  std::set<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out.insert(line.substr(0, line.find('\t')));
  }
  return out;
}

std::map<std::string, std::string> read_na(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    out[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
  }
  return out;
}

void write_markdown(const std::string& path, const std::vector<CaseResult>& results) {
  std::map<std::string, std::map<Outcome, int>> counts;
  for (const auto& r : results) counts[r.suite][r.outcome]++;
  std::ofstream out(path);
  out << "# ONNX conformance\n\n"
         "pare runs every case of the ONNX backend test data shipped by Debian's `libonnx-testdata`\n"
         "(ONNX 1.12) and compares its outputs with ONNX's expected ones as ONNX's runner does\n"
         "(rtol 1e-3, atol 1e-7, NaN where NaN is expected). Generated by\n"
         "`make conformance-docs` (tests/conformance/runner.cc); `make test` fails if a case listed in\n"
         "tests/conformance/passing.txt regresses.\n\n"
         "| suite | cases | pass | fail | unsupported | not applicable | pass rate (applicable) |\n"
         "| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& [suite, c] : counts) {
    auto get = [&](Outcome o) { auto it = c.find(o); return it == c.end() ? 0 : it->second; };
    int total = 0;
    for (const auto& [o, n] : c) total += n;
    int na = get(Outcome::kNotApplicable);
    int pass = get(Outcome::kPass);
    int fail = get(Outcome::kFail) + get(Outcome::kCrash) + get(Outcome::kTimeout);
    double rate = total - na > 0 ? 100.0 * pass / (total - na) : 100.0;
    out << fmt::format("| {} | {} | {} | {} | {} | {} | {:.1f}% |\n", suite, total, pass, fail,
                       get(Outcome::kUnsupported), na, rate);
  }
  out << "\n## Cases not passing\n\n| case | outcome | detail |\n| --- | --- | --- |\n";
  for (const auto& r : results) {
    if (r.outcome == Outcome::kPass) continue;
    std::string d = r.detail.substr(0, 200);
    std::replace(d.begin(), d.end(), '|', '/');
    std::replace(d.begin(), d.end(), '\n', ' ');
    out << fmt::format("| {}/{} | {} | {} |\n", r.suite, r.name, outcome_name(r.outcome), d);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> dirs;
  std::string filter = ".*", expect_pass, write_passing, markdown, na_file;
  bool quiet = false;
  int timeout_s = 120;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") dirs.push_back(next());
    else if (a == "--filter") filter = next();
    else if (a == "--expect-pass") expect_pass = next();
    else if (a == "--write-passing") write_passing = next();
    else if (a == "--markdown") markdown = next();
    else if (a == "--not-applicable") na_file = next();
    else if (a == "--timeout") timeout_s = std::stoi(next());
    else if (a == "--quiet") quiet = true;
    else if (a == "--opt-level") g_opt_level = std::stoi(next());
    else if (a == "--verbose") quiet = false;
    else {
      std::cerr << "usage: pare_conformance --dir DIR... [--filter REGEX] [--expect-pass FILE] "
                   "[--write-passing FILE] [--markdown FILE] [--not-applicable FILE] [--quiet] [--timeout S] [--opt-level N]\n";
      return 2;
    }
  }
  if (dirs.empty()) dirs.push_back("/usr/share/libonnx-testdata/data/node");
  std::regex re(filter);
  auto na = na_file.empty() ? std::map<std::string, std::string>{} : read_na(na_file);
  std::vector<CaseResult> results;
  for (const auto& d : dirs) {
    const std::string suite = fs::path(d).filename().string();
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(d)) {
      if (e.is_directory() && fs::exists(e.path() / "model.onnx")) cases.push_back(e.path());
    }
    std::sort(cases.begin(), cases.end());
    for (const auto& c : cases) {
      const std::string name = c.filename().string();
      if (!std::regex_search(name, re)) continue;
      CaseResult r;
      auto it = na.find(suite + "/" + name);
      if (it != na.end()) {
        r = {suite, name, Outcome::kNotApplicable, it->second};
      } else {
        r = run_isolated(c, suite, timeout_s);
      }
      if (!quiet || (r.outcome != Outcome::kPass && r.outcome != Outcome::kNotApplicable)) {
        std::cout << outcome_name(r.outcome) << " " << suite << "/" << name
                  << (r.detail.empty() ? "" : ": " + r.detail.substr(0, 400)) << "\n" << std::flush;
      }
      results.push_back(std::move(r));
    }
  }
  std::map<std::string, std::map<Outcome, int>> counts;
  for (const auto& r : results) counts[r.suite][r.outcome]++;
  for (const auto& [suite, c] : counts) {
    std::cout << suite << ":";
    for (const auto& [o, n] : c) std::cout << " " << outcome_name(o) << "=" << n;
    std::cout << "\n";
  }
  if (!markdown.empty()) write_markdown(markdown, results);
  if (!write_passing.empty()) {
    std::ofstream out(write_passing);
    out << "# Cases that pass; CI fails if one regresses. Regenerate with make conformance-docs.\n";
    for (const auto& r : results) {
      if (r.outcome == Outcome::kPass) out << r.suite << "/" << r.name << "\n";
    }
  }
  int rc = 0;
  if (!expect_pass.empty()) {
    std::set<std::string> expected = read_list(expect_pass);
    int regressed = 0;
    for (const auto& r : results) {
      if (expected.count(r.suite + "/" + r.name) && r.outcome != Outcome::kPass) {
        std::cout << "REGRESSION " << r.suite << "/" << r.name << "\n";
        ++regressed;
      }
    }
    int passed = 0, failed = 0;
    for (const auto& r : results) (r.outcome == Outcome::kPass ? passed : failed)++;
    std::cout << passed << " passed, " << regressed << " failed\n";
    rc = regressed ? 1 : 0;
  }
  return rc;
}
