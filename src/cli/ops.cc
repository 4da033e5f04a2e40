// pare ops [--markdown] — the operators this build implements, with opset ranges and kernels.
#include <iostream>
#include <map>
#include <set>

#include "cli/cli.h"
#include "kernels/registry.h"

namespace pare::cli {

void add_ops(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("ops", "List supported operators with their opset ranges and kernels");
  auto md = std::make_shared<bool>(false);
  cmd->add_flag("--markdown", *md, "print a Markdown table (used to generate README's op table)");
  cmd->callback([md] {
    // (domain, op) → "since–until (kernel)" entries
    std::map<std::pair<std::string, std::string>, std::set<std::string>> ops;
    for (const auto& d : kernels::registry().defs()) {
      std::string range = d.until_version == ops::kMaxOpset ? fmt::format("{}+", d.since_version)
                                                            : fmt::format("{}–{}", d.since_version, d.until_version);
      ops[{d.domain.empty() ? "ai.onnx" : d.domain, d.op_type}].insert(
          d.name == "reference" ? range : fmt::format("{} ({})", range, d.name));
    }
    if (*md) {
      std::cout << "| domain | operator | opsets (kernel) |\n| --- | --- | --- |\n";
    }
    for (const auto& [key, ranges] : ops) {
      std::string r;
      for (const auto& s : ranges) r += (r.empty() ? "" : ", ") + s;
      if (*md) std::cout << "| " << key.first << " | " << key.second << " | " << r << " |\n";
      else std::cout << fmt::format("{:<28} {:<10} {}\n", key.second, key.first == "ai.onnx" ? "" : key.first, r);
    }
    if (!*md) std::cout << ops.size() << " operators\n";
  });
}

}  // namespace pare::cli
