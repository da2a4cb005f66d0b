// Child processes for the integration tests: every wait is bounded, and a process still running
// when its Process object goes away is killed and reaped.
//
// When LAWFUL_TEST_LOG_DIR is set, the stderr of every lawfuld and lawful process is also kept
// there, one file per process, for the test that checks no log holds contact data
// (log_grep_test.cc).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace lawful::testing {

class Process {
 public:
  struct Options {
    // Where the child's stdin comes from; empty means /dev/null.
    std::string stdin_path;
    // Where its stderr goes; empty means a pipe read by ReadAll()/CollectStderr.
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
                      const std::string& stdin_path = "", absl::Duration timeout = absl::Seconds(20));
// RunCommand with the child in `working_dir` (e.g. inside a git repository).
CommandResult RunCommandIn(const std::string& working_dir, const std::vector<std::string>& argv,
                           absl::Duration timeout = absl::Seconds(20));

}  // namespace lawful::testing
