// Real processes for tests and benchmarks: spawned children, bounded waits, their stderr kept.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"
#include "lawful/testkit.h"

extern char** environ;

namespace lawful::testkit {
namespace {

int RemainingMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// Appends what is readable on `fd` to `out`; closes `fd` on EOF or error.
void Drain(int& fd, std::string* out) {
  char buffer[65536];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  if (n > 0) {
    if (out != nullptr) out->append(buffer, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    CloseFd(fd);
  }
}

}  // namespace

Process::Process(const std::vector<std::string>& argv, const Options& options)
    : executable_(argv.empty() ? "" : argv[0]), stderr_path_(options.stderr_path) {
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return;
  if (options.stderr_path.empty() && pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string stdin_path = options.stdin_path.empty() ? "/dev/null" : options.stdin_path;
  posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  if (options.stderr_path.empty()) {
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, options.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
  }

  // The child starts with no blocked signals and default dispositions, whatever this test
  // process (and the threads gRPC started in it) had.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int signal : {SIGHUP, SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, signal);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  if (posix_spawn(&pid_, args[0], &actions, &attr, args.data(), environ) != 0) pid_ = -1;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);

  close(out_pipe[1]);
  stdout_fd_ = out_pipe[0];
  if (err_pipe[1] >= 0) close(err_pipe[1]);
  stderr_fd_ = err_pipe[0];
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // What the child wrote to its stderr pipe and nobody read (the child is gone: no read blocks
  // for long, though a grandchild could still hold the pipe, hence the poll).
  while (stderr_fd_ >= 0) {
    pollfd fd{stderr_fd_, POLLIN, 0};
    if (poll(&fd, 1, 100) <= 0) break;
    Drain(stderr_fd_, &stderr_copy_);
  }
  KeepLog();
  CloseFd(stdout_fd_);
  CloseFd(stderr_fd_);
}

std::optional<std::string> Process::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t newline = stdout_buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return line;
    }
    if (stdout_fd_ < 0) return std::nullopt;
    pollfd fd{stdout_fd_, POLLIN, 0};
    const int ready = poll(&fd, 1, RemainingMs(deadline));
    if (ready == 0) return std::nullopt;  // timed out
    if (ready < 0 && errno != EINTR) return std::nullopt;
    if (ready > 0) Drain(stdout_fd_, &stdout_buffer_);
  }
}

bool Process::ReadAll(absl::Duration timeout, std::string* out, std::string* err) {
  const absl::Time deadline = absl::Now() + timeout;
  if (out != nullptr) *out = std::move(stdout_buffer_);
  stdout_buffer_.clear();
  while (stdout_fd_ >= 0 || stderr_fd_ >= 0) {
    std::vector<pollfd> fds;
    if (stdout_fd_ >= 0) fds.push_back({stdout_fd_, POLLIN, 0});
    if (stderr_fd_ >= 0) fds.push_back({stderr_fd_, POLLIN, 0});
    const int ready = poll(fds.data(), fds.size(), RemainingMs(deadline));
    if (ready == 0) {
      Signal(SIGKILL);
      WaitExit(absl::Seconds(5));
      return false;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    for (const pollfd& fd : fds) {
      if (fd.revents == 0) continue;
      if (fd.fd == stdout_fd_) {
        Drain(stdout_fd_, out);
      } else {
        const size_t before = stderr_copy_.size();
        Drain(stderr_fd_, &stderr_copy_);
        if (err != nullptr) err->append(stderr_copy_, before);
      }
    }
  }
  return WaitExit(deadline - absl::Now()).has_value();
}

void Process::KeepLog() {
  const char* dir = std::getenv("LAWFUL_TEST_LOG_DIR");
  const std::string name = std::filesystem::path(executable_).filename().string();
  if (dir == nullptr || *dir == '\0' || pid_ <= 0 || (name != "lawfuld" && name != "lawful")) {
    return;
  }
  // Unique across the test processes ctest runs in parallel, and within one.
  static std::atomic<int> kept{0};
  const std::filesystem::path path =
      std::filesystem::path(dir) / (name + "-" + std::to_string(getpid()) + "-" +
                                    std::to_string(pid_) + "-" + std::to_string(++kept) + ".log");
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  std::ofstream out(path, std::ios::binary);
  if (stderr_path_.empty()) {
    out << stderr_copy_;
  } else {
    std::ifstream in(stderr_path_, std::ios::binary);
    out << in.rdbuf();
  }
}

void Process::Signal(int signal) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, signal);
}

std::optional<int> Process::WaitExit(absl::Duration timeout) {
  if (exit_code_.has_value() || pid_ <= 0) return exit_code_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

namespace {

CommandResult Run(const std::vector<std::string>& argv, const Process::Options& options,
                  absl::Duration timeout) {
  Process process(argv, options);
  CommandResult result;
  if (!process.started()) {
    result.err = "could not start " + argv[0];
    return result;
  }
  if (process.ReadAll(timeout, &result.out, &result.err)) {
    result.exit_code = *process.WaitExit(absl::ZeroDuration());
  }
  return result;
}

}  // namespace

CommandResult RunEval(const std::string& lawful_cli, const std::string& at,
                      const std::vector<std::string>& flags, const std::string& input,
                      const std::string& stdin_path, absl::Duration timeout) {
  std::vector<std::string> argv = {lawful_cli, "eval", "--purpose=newsletter", "--channel=email",
                                   "--at=" + at};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(input);
  return RunCommand(argv, stdin_path, timeout);
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_path,
                         absl::Duration timeout) {
  return Run(argv, Process::Options{.stdin_path = stdin_path, .stderr_path = "", .working_dir = ""},
             timeout);
}

CommandResult RunCommandIn(const std::string& working_dir, const std::vector<std::string>& argv,
                           absl::Duration timeout) {
  return Run(argv,
             Process::Options{.stdin_path = "", .stderr_path = "", .working_dir = working_dir},
             timeout);
}

}  // namespace lawful::testkit
