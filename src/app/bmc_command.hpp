// `ironboot bmc ...`: one BMC command from the command line (operators, tests, the benchmark),
// over IPMI 2.0 or Redfish with its own io_context. docs/bmc.md "The ironboot bmc command".
#pragma once

namespace CLI {
class App;
}

namespace ironboot {

// Adds the `bmc` subcommand; when it is the one parsed, its callback runs the command and ends
// parsing with CLI::RuntimeError(exit code) (0 on success), which CLI11_PARSE returns.
void add_bmc_command(CLI::App& app);

}  // namespace ironboot
