// pare report OUTDIR — re-renders OUTDIR/report.html from OUTDIR/report.json (pare tune).
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "tune/tune.h"

namespace pare::cli {

void add_report(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("report", "Re-render the HTML report of a pare tune output folder and print its summary table");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("OUTDIR", *dir, "output folder of pare tune (holding report.json)")->required();
  cmd->callback([dir, &rc] {
    Status st = tune::rerender(*dir);
    if (!st.ok()) {
      rc = report(st);
      return;
    }
    std::ifstream f(*dir + "/report.json");
    std::stringstream ss;
    ss << f.rdbuf();
    std::cout << tune::summary_table(nlohmann::json::parse(ss.str(), nullptr, false)) << "report: " << *dir << "/report.html\n";
  });
}

}  // namespace pare::cli
