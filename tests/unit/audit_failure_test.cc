// The audit log's write failures (lawful/audit.h): injected ones (a full disk, a read-only file
// system, I/O errors at write and at fdatasync, a group commit's failed sync) and real ones (a
// file size limit, a full tmpfs, a read-only mount) fail the session without losing what was
// acknowledged, and synced pages leave the page cache.
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <thread>

#include <filesystem>
#include <string>
#include <vector>
#include "absl/strings/match.h"

#include "absl/strings/str_cat.h"
#include "audit_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/audit.h"
#include "lawful/testkit.h"

namespace lawful::audit {
namespace {

namespace fs = std::filesystem;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// Write failures
// ---------------------------------------------------------------------------------------------

// Injects errno values into the real file system's calls.
struct Faults {
  int write_errno = 0;
  size_t written_before_failing = 0;  // a partial write: bytes that reach the file first
  int sync_errno = 0;
  int truncate_errno = 0;
  int open_errno = 0;
  std::function<void()> before_sync =
      nullptr;  // e.g. to hold a sync while other batches are written
};

class FaultyFile : public AppendFile {
 public:
  FaultyFile(std::unique_ptr<AppendFile> real, Faults* faults, std::string path)
      : real_(std::move(real)), faults_(faults), path_(std::move(path)) {}
  absl::Status Append(absl::string_view data) override {
    if (faults_->write_errno == 0) return real_->Append(data);
    real_->Append(data.substr(0, std::min(data.size(), faults_->written_before_failing)))
        .IgnoreError();
    return absl::ErrnoToStatus(faults_->write_errno, "write " + path_);
  }
  absl::Status Sync() override {
    if (faults_->before_sync) faults_->before_sync();
    if (faults_->sync_errno != 0)
      return absl::ErrnoToStatus(faults_->sync_errno, "fdatasync " + path_);
    return real_->Sync();
  }
  absl::Status Truncate(uint64_t size) override {
    if (faults_->truncate_errno != 0) {
      return absl::ErrnoToStatus(faults_->truncate_errno, "ftruncate " + path_);
    }
    return real_->Truncate(size);
  }

 private:
  std::unique_ptr<AppendFile> real_;
  Faults* faults_;
  std::string path_;
};

class FaultyFileSystem : public FileSystem {
 public:
  Faults faults;
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override {
    return real().OpenForRead(path);
  }
  absl::StatusOr<std::unique_ptr<AppendFile>> OpenForAppend(const std::string& path) override {
    if (faults.open_errno != 0) return absl::ErrnoToStatus(faults.open_errno, "open " + path);
    absl::StatusOr<std::unique_ptr<AppendFile>> file = real().OpenForAppend(path);
    if (!file.ok()) return file.status();
    return std::make_unique<FaultyFile>(std::move(*file), &faults, path);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return real().Rename(from, to);
  }
  absl::Status Remove(const std::string& path) override { return real().Remove(path); }
  absl::Status SyncDir(const std::string& dir) override { return real().SyncDir(dir); }
  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    return real().List(dir);
  }
  absl::StatusOr<absl::Time> ModTime(const std::string& path) override {
    return real().ModTime(path);
  }

 private:
  static FileSystem& real() { return PosixFileSystem(); }
};

// A session's two halves: batches written before a Wait are synced by its one fdatasync; a Wait
// after a failed sync fails, so a caller that did other work in between still answers
// UNAVAILABLE rather than without records.
TEST(AuditLog, WriteThenWaitSyncsEveryBatchWrittenBeforeAndFailsWhenTheSyncFails) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  FaultyFileSystem file_system;
  int syncs = 0;
  file_system.faults.before_sync = [&] { ++syncs; };
  Options options = TestOptions(path);
  options.file_system = &file_system;
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  const Batch a("a", 3), b("b", 4);
  const auto written = [&](const Batch& batch) {
    Log::Session session = log->Begin(TestRequest(), batch.records.size());
    session.Append(0, session.size(),
                   [&](size_t i, DecisionRecord* out) { *out = batch.records[i]; });
    EXPECT_TRUE(session.Write().ok());
    return session;
  };
  syncs = 0;
  Log::Session first = written(a);
  Log::Session second = written(b);
  EXPECT_EQ(syncs, 0) << "Write writes, it does not sync";
  EXPECT_EQ(Lines(path).size(), 1u + 4u + 5u);  // start, then both batches, written
  EXPECT_TRUE(first.Wait().ok());
  EXPECT_TRUE(second.Wait().ok());
  EXPECT_EQ(syncs, 1) << "one fdatasync covered both batches";

  Log::Session third = written(a);
  file_system.faults.sync_errno = EIO;
  const absl::Status failed = third.Wait();
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_THAT(failed.message(), HasSubstr("the 3 decisions were not recorded"));
  EXPECT_EQ(third.Wait().code(), absl::StatusCode::kUnavailable) << "and stays failed";
  file_system.faults.sync_errno = 0;
  // The next session reopens the log, cutting what was not synced.
  ASSERT_TRUE(CommitBatch(*log, TestRequest(), b.records).ok());
  absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
  ASSERT_TRUE(report.ok() && report->ok());
  EXPECT_EQ(report->decisions, 3u + 4u + 4u);
}

struct FailureCase {
  const char* name;
  Faults faults;
  const char* message;
};

TEST(AuditLog, AFailedWriteOrSyncFailsTheAppendAndLosesNothingAcknowledged) {
  const FailureCase cases[] = {
      {"disk full during the write",
       {.write_errno = ENOSPC, .written_before_failing = 700},
       "No space left on device"},
      {"read-only file system", {.write_errno = EROFS}, "Read-only file system"},
      {"I/O error during the write",
       {.write_errno = EIO, .written_before_failing = 10},
       "Input/output error"},
      {"I/O error at fdatasync", {.sync_errno = EIO}, "fdatasync"},
      {"disk full at fdatasync", {.sync_errno = ENOSPC}, "No space left on device"},
      {"partial write that cannot be cut off",
       {.write_errno = ENOSPC, .written_before_failing = 900, .truncate_errno = EIO},
       "No space left on device"},
  };
  for (const FailureCase& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const fs::path path = dir.path() / "audit.jsonl";
    FaultyFileSystem file_system;
    Options options = TestOptions(path);
    options.file_system = &file_system;
    std::vector<std::string> notices;
    options.notice = [&](absl::string_view n) { notices.emplace_back(n); };
    auto log = OpenOrDie(options);
    ASSERT_NE(log, nullptr);

    Batch before("before", 5), failing("failing", 5), after("after", 5);
    ASSERT_TRUE(CommitBatch(*log, TestRequest(), before.records).ok());
    file_system.faults = c.faults;
    const absl::Status failed = CommitBatch(*log, TestRequest(), failing.records);
    EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
    EXPECT_THAT(failed.message(), HasSubstr(c.message));
    EXPECT_THAT(failed.message(), HasSubstr("the 5 decisions were not recorded"));
    // While the disk still fails, so does every append.
    EXPECT_EQ(CommitBatch(*log, TestRequest(), failing.records).code(),
              absl::StatusCode::kUnavailable);

    file_system.faults = {};
    ASSERT_TRUE(CommitBatch(*log, TestRequest(), after.records).ok());
    log.reset();

    const VerifyReport report = ExpectVerifies(path.string());
    EXPECT_EQ(report.decisions, 10u);
    for (const char* who : {"before-0", "before-4", "after-0", "after-4"}) {
      EXPECT_EQ(Find(TestKey(), who, {path.string()})->records.size(), 1u) << who;
    }
    EXPECT_EQ(Find(TestKey(), "failing-0", {path.string()})->records.size(), 0u);
  }
}

// Group commit: a batch written while another's fdatasync runs waits for the next sync; when the
// running one fails, neither batch is acknowledged, and both are cut when the log reopens.
TEST(AuditLog, AFailedSyncFailsEveryBatchWaitingForItAndKeepsTheOnesBefore) {
  for (const bool sync_fails : {true, false}) {
    SCOPED_TRACE(sync_fails ? "the held sync fails" : "the held sync succeeds");
    TempDir dir;
    const fs::path path = dir.path() / "audit.jsonl";
    FaultyFileSystem file_system;
    Options options = TestOptions(path);
    options.file_system = &file_system;
    auto log = OpenOrDie(options);
    ASSERT_NE(log, nullptr);
    Batch before("before", 3), first("first", 3), second("second", 3), after("after", 3);
    ASSERT_TRUE(CommitBatch(*log, TestRequest(), before.records).ok());

    std::promise<void> entered, release;
    std::atomic<bool> held{false};
    file_system.faults.before_sync = [&] {
      if (held.exchange(true)) return;
      entered.set_value();
      release.get_future().wait();
    };
    absl::Status first_status, second_status;
    std::thread first_thread(
        [&] { first_status = CommitBatch(*log, TestRequest("r-first"), first.records); });
    entered.get_future().wait();  // the first batch is written and its sync is running
    std::thread second_thread(
        [&] { second_status = CommitBatch(*log, TestRequest("r-second"), second.records); });
    for (int i = 0; i < 500 && !absl::StrContains(ReadFile(path), "r-second"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_THAT(ReadFile(path), HasSubstr("r-second"));  // written, now waiting for a sync
    if (sync_fails) file_system.faults.sync_errno = EIO;
    release.set_value();
    first_thread.join();
    second_thread.join();
    file_system.faults = {};

    if (sync_fails) {
      EXPECT_EQ(first_status.code(), absl::StatusCode::kUnavailable) << first_status;
      EXPECT_EQ(second_status.code(), absl::StatusCode::kUnavailable) << second_status;
    } else {
      EXPECT_TRUE(first_status.ok()) << first_status;
      EXPECT_TRUE(second_status.ok()) << second_status;
    }
    ASSERT_TRUE(CommitBatch(*log, TestRequest(), after.records).ok());
    log.reset();
    const VerifyReport report = ExpectVerifies(path.string());
    EXPECT_EQ(report.decisions, sync_fails ? 6u : 12u);
    for (const char* who : {"before-0", "after-2"}) {
      EXPECT_EQ(Find(TestKey(), who, {path.string()})->records.size(), 1u) << who;
    }
    for (const char* who : {"first-0", "second-2"}) {
      EXPECT_EQ(Find(TestKey(), who, {path.string()})->records.size(), sync_fails ? 0u : 1u) << who;
    }
  }
}

TEST(AuditLog, FailsToOpenWhenTheFileCannotBeOpenedForWriting) {
  TempDir dir;
  FaultyFileSystem file_system;
  file_system.faults.open_errno = EROFS;
  Options options = TestOptions(dir.path() / "audit.jsonl");
  options.file_system = &file_system;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options);
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(), HasSubstr("Read-only file system"));
}

// Runs `body` in a child process (for setrlimit and mount namespaces) and returns its exit code;
// the child's stderr is the test's.
int RunInChild(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

constexpr int kSkip = 77;

#define CHILD_CHECK(condition, ...)                                           \
  do {                                                                        \
    if (!(condition)) {                                                       \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #condition, \
                   absl::StrCat(__VA_ARGS__).c_str());                        \
      return 1;                                                               \
    }                                                                         \
  } while (false)

// Appends batches of 20 until an append fails; returns how many decisions were acknowledged.
int64_t AppendUntilFailure(Log& log, absl::Status* failure) {
  int64_t acknowledged = 0;
  for (int i = 0; i < 100000; ++i) {
    Batch batch(absl::StrCat("b", i), 20);
    *failure = CommitBatch(log, TestRequest(), batch.records);
    if (!failure->ok()) break;
    acknowledged += 20;
  }
  return acknowledged;
}

// A real full disk, as the kernel reports it to a process over its file size limit: write()
// returns EFBIG once SIGXFSZ is ignored.
TEST(AuditLogOnDisk, AFileSizeLimitFailsTheAppendAndKeepsWhatWasAcknowledged) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  const int code = RunInChild([&]() -> int {
    signal(SIGXFSZ, SIG_IGN);
    auto log = OpenOrDie(TestOptions(path));
    CHILD_CHECK(log != nullptr, "open");
    const rlimit limit{64 * 1024, 64 * 1024};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &limit) == 0, std::strerror(errno));
    absl::Status failure;
    const int64_t acknowledged = AppendUntilFailure(*log, &failure);
    CHILD_CHECK(failure.code() == absl::StatusCode::kUnavailable, failure.ToString());
    CHILD_CHECK(absl::StrContains(failure.message(), "File too large"), failure.ToString());
    CHILD_CHECK(acknowledged > 0, "nothing fitted");
    CHILD_CHECK(fs::file_size(path) <= 64 * 1024, "the limit did not hold");
    log.reset();
    absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
    CHILD_CHECK(report.ok() && report->ok(), report.ok() ? report->problem->ToString() : "");
    CHILD_CHECK(static_cast<int64_t>(report->decisions) == acknowledged, report->decisions, " vs ",
                acknowledged);
    return 0;
  });
  EXPECT_EQ(code, 0);
}

// Mounts a tmpfs of `size` at `dir` in a mount namespace of the calling (child) process, so that
// it disappears with the process. False (with the reason on stderr) where that is not allowed.
bool MountTmpfs(const fs::path& dir, const char* options) {
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("tmpfs", dir.c_str(), "tmpfs", 0, options) != 0) {
    std::fprintf(stderr, "cannot mount a tmpfs here (%s): skipped\n", std::strerror(errno));
    return false;
  }
  return true;
}

TEST(AuditLogOnDisk, AFullTmpfsFailsTheAppendAndKeepsWhatWasAcknowledged) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  const int code = RunInChild([&]() -> int {
    if (!MountTmpfs(dir.path(), "size=64k")) return kSkip;
    auto log = OpenOrDie(TestOptions(path));
    CHILD_CHECK(log != nullptr, "open");
    absl::Status failure;
    const int64_t acknowledged = AppendUntilFailure(*log, &failure);
    CHILD_CHECK(failure.code() == absl::StatusCode::kUnavailable, failure.ToString());
    CHILD_CHECK(absl::StrContains(failure.message(), "No space left on device"),
                failure.ToString());
    CHILD_CHECK(acknowledged > 0, "nothing fitted");
    // Still full: appends keep failing, and keep nothing half-written.
    Batch batch("late", 20);
    CHILD_CHECK(!CommitBatch(*log, TestRequest(), batch.records).ok(), "append on a full disk");
    log.reset();
    absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
    CHILD_CHECK(report.ok() && report->ok(), report.ok() ? report->problem->ToString() : "");
    CHILD_CHECK(static_cast<int64_t>(report->decisions) == acknowledged, report->decisions, " vs ",
                acknowledged);
    // Reopening a full disk's log needs no space: nothing was torn.
    CHILD_CHECK(Log::Open(TestOptions(path)).ok(), "reopen");
    return 0;
  });
  if (code == kSkip) GTEST_SKIP() << "no tmpfs mounts here";
  EXPECT_EQ(code, 0);
}

// Root ignores file modes, so a read-only disk is a read-only mount. Linux refuses to remount
// read-only while a file is open for writing, so this covers opening a log on a read-only disk;
// EROFS in the middle of appending is covered by the injected faults above.
TEST(AuditLogOnDisk, AReadOnlyMountFailsTheOpenAndTheLogStillVerifies) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  const int code = RunInChild([&]() -> int {
    if (!MountTmpfs(dir.path(), "size=1m")) return kSkip;
    {
      auto log = OpenOrDie(TestOptions(path));
      Batch batch("c", 10);
      CHILD_CHECK(CommitBatch(*log, TestRequest(), batch.records).ok(), "append");
    }
    CHILD_CHECK(mount("tmpfs", dir.path().c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m") == 0,
                std::strerror(errno));
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(TestOptions(path));
    CHILD_CHECK(!log.ok(), "opened on a read-only disk");
    CHILD_CHECK(absl::StrContains(log.status().message(), "Read-only file system"),
                log.status().ToString());
    absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
    CHILD_CHECK(report.ok() && report->ok() && report->decisions == 10, "verify");
    return 0;
  });
  if (code == kSkip) GTEST_SKIP() << "no tmpfs mounts here";
  EXPECT_EQ(code, 0);
}

// Which of the file's pages are in the page cache, one entry a page (mincore on a mapping).
std::vector<bool> CachedPages(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const size_t size = fs::file_size(path);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return {};
  const bool ok = mincore(map, size, resident.data()) == 0;
  munmap(map, size);
  if (!ok) return {};
  std::vector<bool> cached;
  for (unsigned char r : resident) cached.push_back((r & 1) != 0);
  return cached;
}

TEST(AuditLogOnDisk, SyncedPagesLeaveThePageCacheExceptTheOneTheFileEndsIn) {
  TempDir dir;
  struct statfs fs_info;
  ASSERT_EQ(statfs(dir.path().c_str(), &fs_info), 0) << std::strerror(errno);
  // On a tmpfs the page cache is the file: there is nothing to drop.
  if (fs_info.f_type == TMPFS_MAGIC) GTEST_SKIP() << "the temporary directory is a tmpfs";
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 3; ++i) {
    Batch batch(absl::StrCat("c", i), 1000);
    ASSERT_TRUE(CommitBatch(*log, TestRequest(), batch.records).ok());
    const std::vector<bool> cached = CachedPages(path);
    ASSERT_GT(cached.size(), 2u) << "batch " << i;
    for (size_t p = 0; p + 1 < cached.size(); ++p) {
      EXPECT_FALSE(cached[p]) << "batch " << i << ": page " << p << " of " << cached.size();
    }
    EXPECT_TRUE(cached.back()) << "batch " << i << ": the last page, which the next append extends";
  }
  log.reset();
  ExpectVerifies(path.string());
}

}  // namespace
}  // namespace lawful::audit
