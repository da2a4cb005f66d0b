// What tests and benchmarks share: fixed instants, temporary files, real processes.
//
// No GoogleTest and no gRPC here, so that benchmarks link it as well as tests. A helper that
// cannot do its job (text that is no instant, a file that cannot be written) is a mistake in the
// test or its machine: it aborts, saying what went wrong, rather than let the test run on.
//
// When LAWFUL_TEST_LOG_DIR is set, the stderr of every lawfuld and lawful process a Process
// starts is also kept there, one file per process, for the test that checks no log holds contact
// data (tests/integration/log_grep_test.cc).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace lawful::testkit {

// ---- Fixed instants ----

// The instant written in RFC 3339, e.g. At("2026-03-01T10:00:00+01:00"). Aborts with a message
// naming the text when it does not parse.
absl::Time At(std::string_view rfc3339);

// A Monday morning in winter time: the instant most tests decide at.
inline constexpr char kTestInstant[] = "2026-03-02T09:00:00Z";
// The last evening of August in summer time, where every month window clamps: the instant the
// benchmarks decide their campaign at.
inline constexpr char kBenchInstant[] = "2026-08-31T21:30:00Z";

// ---- Temporary files ----

// A fresh directory, lawful-test-XXXXXX in the directory GoogleTest's ::testing::TempDir() names
// ($TEST_TMPDIR, else $TMPDIR, else /tmp), removed with everything in it when the object goes
// away. path() is empty when the directory could not be made.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The whole file; empty when it cannot be read.
std::string ReadFile(const std::filesystem::path& path);

// Replaces the file's contents with `text`; aborts, naming the file, when it cannot.
void WriteFile(const std::filesystem::path& path, std::string_view text);

// ---- Real processes ----

// A child process: every wait is bounded, and a process still running when its Process object
// goes away is killed and reaped.
class Process {
 public:
  struct Options {
    // Where the child's stdin comes from; empty means /dev/null.
    std::string stdin_path;
    // Where its stderr goes; empty means a pipe, read by ReadAll() and when the Process goes away.
    std::string stderr_path;
    // The child's working directory; empty means this process's.
    std::string working_dir;
  };

  // Starts `argv` (argv[0] is the executable's path). The child's stdout is always a pipe.
  Process(const std::vector<std::string>& argv, const Options& options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The next line of stdout, without its newline; nullopt on EOF or when `timeout` passes.
  std::optional<std::string> ReadLine(absl::Duration timeout);

  // Reads stdout (and stderr when it is a pipe) to EOF, then waits for the exit. Returns false
  // when that takes longer than `timeout` (the process is then killed).
  bool ReadAll(absl::Duration timeout, std::string* out, std::string* err);

  void Signal(int signal);

  // The exit code (128 + signal when killed by one); nullopt when `timeout` passes first.
  std::optional<int> WaitExit(absl::Duration timeout);

 private:
  // Copies the child's stderr into LAWFUL_TEST_LOG_DIR, if set and the child is ours.
  void KeepLog();

  std::string executable_;
  std::string stderr_path_;
  std::string stderr_copy_;  // what was read from the stderr pipe
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string stdout_buffer_;
  std::optional<int> exit_code_;
};

// Runs a command to completion with a bounded wait and returns what it printed.
struct CommandResult {
  int exit_code = -1;  // -1 when it did not finish in time
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_path = "",
                         absl::Duration timeout = absl::Seconds(20));
// `lawful eval` (the binary `lawful_cli`) for a newsletter by e-mail at `at`, with `flags` after
// those (later flags override earlier ones), on `input` ("-": stdin, read from `stdin_path`).
CommandResult RunEval(const std::string& lawful_cli, const std::string& at,
                      const std::vector<std::string>& flags, const std::string& input,
                      const std::string& stdin_path = "",
                      absl::Duration timeout = absl::Seconds(20));
// RunCommand with the child in `working_dir` (e.g. inside a git repository).
CommandResult RunCommandIn(const std::string& working_dir, const std::vector<std::string>& argv,
                           absl::Duration timeout = absl::Seconds(20));

}  // namespace lawful::testkit
