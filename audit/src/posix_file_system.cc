// The real file system behind the log: plain POSIX calls, retried on EINTR, errors naming the
// call, the path and errno's text.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "lawful/audit.h"

namespace lawful::audit {
namespace {

absl::Status Failed(absl::string_view call, const std::string& path) {
  const int error = errno;
  return absl::ErrnoToStatus(error, absl::StrCat(call, " ", path));
}

class PosixReadFile : public ReadableFile {
 public:
  PosixReadFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixReadFile() override { close(fd_); }
  absl::StatusOr<size_t> Read(char* buffer, size_t size) override {
    while (true) {
      const ssize_t n = read(fd_, buffer, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Failed("read", path_);
    }
  }

 private:
  int fd_;
  std::string path_;
};

// The log's pages are written once and read again only by `lawful audit verify` or `find`, so
// once synced they are dropped from the page cache (POSIX_FADV_DONTNEED). Kept, they crowd out
// everything else, and every later write() lands on a newly allocated page: on the 2-core VM a
// loop of 3 MB write()+fdatasync() copied 1.0-1.4 GB/s onto new pages and 5.6-6.0 GB/s onto
// recycled ones. The page the file ends in is kept, since the next append would read it back.
class PosixAppendFile : public AppendFile {
 public:
  PosixAppendFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size), dropped_(PageFloor(size)) {}
  ~PosixAppendFile() override { close(fd_); }

  absl::Status Append(absl::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Failed("write", path_);
      }
      data.remove_prefix(static_cast<size_t>(n));
      size_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    // What this fdatasync covers at least; appends racing it may be covered too, or not.
    const uint64_t covered = size_.load(std::memory_order_relaxed);
    while (fdatasync(fd_) != 0) {
      if (errno != EINTR) return Failed("fdatasync", path_);
    }
    // Advice only: failing it loses nothing, and it never drops a dirty page.
    const uint64_t end = PageFloor(covered);
    uint64_t from = dropped_.load(std::memory_order_relaxed);
    if (end > from && dropped_.compare_exchange_strong(from, end)) {
      posix_fadvise(fd_, static_cast<off_t>(from), static_cast<off_t>(end - from),
                    POSIX_FADV_DONTNEED);
    }
    return absl::OkStatus();
  }
  absl::Status Truncate(uint64_t size) override {
    while (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return Failed("ftruncate", path_);
    }
    size_.store(size, std::memory_order_relaxed);
    if (PageFloor(size) < dropped_.load(std::memory_order_relaxed)) dropped_.store(PageFloor(size));
    return absl::OkStatus();
  }

 private:
  static uint64_t PageFloor(uint64_t offset) {
    static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    return offset - offset % page;
  }

  int fd_;
  std::string path_;
  std::atomic<uint64_t> size_;     // the file's size: at open, plus what Append wrote
  std::atomic<uint64_t> dropped_;  // the cache is dropped below this offset
};

class Posix : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Failed("open", path);
    return std::make_unique<PosixReadFile>(fd, path);
  }
  absl::StatusOr<std::unique_ptr<AppendFile>> OpenForAppend(const std::string& path) override {
    // 0640: the log holds pseudonyms and decisions, for the service and its auditors only.
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return Failed("open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      absl::Status status = Failed("fstat", path);
      close(fd);
      return status;
    }
    return std::make_unique<PosixAppendFile>(fd, path, static_cast<uint64_t>(st.st_size));
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) return Failed("rename", from);
    return absl::OkStatus();
  }
  absl::Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return Failed("unlink", path);
    return absl::OkStatus();
  }
  absl::Status SyncDir(const std::string& dir) override {
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Failed("open", dir);
    absl::Status status;
    while (fsync(fd) != 0) {
      if (errno != EINTR) {
        status = Failed("fsync", dir);
        break;
      }
    }
    close(fd);
    return status;
  }
  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return Failed("opendir", dir);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    const int error = errno;
    closedir(d);
    if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("readdir ", dir));
    return names;
  }
  absl::StatusOr<absl::Time> ModTime(const std::string& path) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return Failed("stat", path);
    return absl::TimeFromTimespec(st.st_mtim);
  }
};

}  // namespace

FileSystem& PosixFileSystem() {
  static Posix* const posix = new Posix;  // stateless; never destroyed
  return *posix;
}

}  // namespace lawful::audit
