// The casmem CLI's entry point: --help, unknown commands and global
// options, through the built binary.
#include <gtest/gtest.h>

#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

TEST(CliMain, NoCommandPrintsUsageOnStderrAndExitsUsage) {
  const CliRun r = RunCli({});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("usage: casmem"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliMain, HelpPrintsUsageOnStdoutAndExitsZero) {
  const CliRun r = RunCli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
}

TEST(CliMain, UnknownCommandIsOneLineUsageError) {
  const CliRun r = RunCli({"frobnicate"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "casmem: unknown command \"frobnicate\" (casmem --help lists them)\n");
}

TEST(CliMain, GlobalOptionWithoutValueIsUsageError) {
  const CliRun r = RunCli({"--url"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "casmem: --url needs a value\n");
}

}  // namespace
}  // namespace casmem::testing
