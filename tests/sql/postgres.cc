#include "postgres.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "lawful/sql.h"
#include "lawful/testkit.h"

namespace lawful::testing {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";
constexpr char kPort[] = "54329";  // names the socket file only: the directory is private

// argv run as `postgres` when we are root.
std::vector<std::string> AsServerUser(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> out = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace

bool Postgres::Run(const std::string& what, const std::vector<std::string>& argv) {
  const testkit::CommandResult r = testkit::RunCommand(AsServerUser(argv), "", absl::Seconds(120));
  if (r.exit_code == 0) return true;
  error_ = absl::StrCat(what, " failed (exit ", r.exit_code, "): ", r.out, r.err);
  return false;
}

Postgres::Postgres() {
  char pattern[] = "/tmp/lawful-pg-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      error_ = "no user `postgres` to run the server as (apt-get install postgresql)";
      return;
    }
  }
  // The watchdog: a process of its own session (untouched by signals to the test's process
  // group) that waits for the end of the pipe, i.e. for this process to end or to let go.
  const std::string cleanup =
      absl::StrCat(geteuid() == 0 ? "/usr/sbin/runuser -u postgres -- " : "", kBin, "pg_ctl -D ",
                   dir_, "/data -m immediate stop >/dev/null 2>&1; rm -rf ", dir_);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    error_ = "pipe failed";
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    close(fds[1]);
    char byte;
    while (read(fds[0], &byte, 1) > 0) {
    }
    execl("/bin/sh", "sh", "-c", cleanup.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  watchdog_ = fds[1];
  watchdog_pid_ = pid;
  if (!Run("initdb", {absl::StrCat(kBin, "initdb"), "-D", dir_ + "/data", "-A", "trust", "-U",
                      "lawful", "-E", "UTF8", "--locale=C", "--no-sync"})) {
    return;
  }
  started_ = Run(
      "pg_ctl start",
      {absl::StrCat(kBin, "pg_ctl"), "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-o",
       absl::StrCat("-k ", dir_, " -p ", kPort,
                    " -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                    "-c full_page_writes=off"),
       "start"});
}

Postgres::~Postgres() {
  if (started_) {
    Run("pg_ctl stop",
        {absl::StrCat(kBin, "pg_ctl"), "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"});
  }
  if (watchdog_ >= 0) {
    close(watchdog_);
    waitpid(watchdog_pid_, nullptr, 0);
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string Postgres::Conninfo(const std::string& database) const {
  return absl::StrCat("host=", dir_, " port=", kPort, " user=lawful dbname=", database);
}

bool Postgres::CreateDatabase(const std::string& name) {
  const absl::Status s = sql::Execute(Conninfo("postgres"), absl::StrCat("CREATE DATABASE ", name));
  if (!s.ok()) error_ = std::string(s.message());
  return s.ok();
}

}  // namespace lawful::testing
