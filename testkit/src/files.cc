// Temporary files for tests: self-removing directories, whole-file reads and writes.
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "lawful/testkit.h"

namespace lawful::testkit {
namespace {

// The directory ::testing::TempDir() names on Linux, with its trailing slash.
std::string TempRoot() {
  for (const char* name : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* dir = std::getenv(name);
    if (dir == nullptr || *dir == '\0') continue;
    std::string root = dir;
    if (root.back() != '/') root += '/';
    return root;
  }
  return "/tmp/";
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::path(TempRoot()) / "lawful-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.good()) {
    std::fprintf(stderr, "lawful::testkit::WriteFile: cannot write %s\n", path.c_str());
    std::abort();
  }
}

}  // namespace lawful::testkit
