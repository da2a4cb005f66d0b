// Fixed instants for tests and benchmarks: RFC 3339 text to absl::Time, aborting on a typo.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lawful/testkit.h"

namespace lawful::testkit {

absl::Time At(std::string_view rfc3339) {
  absl::Time time;
  std::string error;
  // Debian's Abseil has its own string_view, not std::string_view.
  if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(rfc3339.data(), rfc3339.size()), &time,
                       &error)) {
    std::fprintf(stderr, "lawful::testkit::At: \"%.*s\" is not an RFC 3339 instant: %s\n",
                 static_cast<int>(rfc3339.size()), rfc3339.data(), error.c_str());
    std::abort();
  }
  return time;
}

}  // namespace lawful::testkit
