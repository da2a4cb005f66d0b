// Checks lines, in order, against the chain: the rules `Log::Open` (on the live file) and `Verify`
// (across files) share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "crypto.h"
#include "format.h"
#include "lawful/audit.h"

namespace lawful::audit::internal {

struct Verdict {
  bool ok = true;
  ProblemKind kind = ProblemKind::kAltered;
  std::string message;  // when !ok
};

class ChainChecker {
 public:
  explicit ChainChecker(const Key& key);

  // Checks `line` (scanned as `scan`) as the next line of the chain, `first_in_file` when it opens
  // a file (so must be a start record). Advances past it only when it is ok.
  Verdict Check(const Line& line, const ScannedLine& scan, bool first_in_file);

  // The seq and mac the next line must continue from; unset before the first line.
  const std::optional<uint64_t>& next_seq() const { return next_seq_; }
  const std::optional<Mac>& prev() const { return prev_; }
  // The format of the file the last line checked ok is in (its start line's `log`).
  const std::string& format() const { return format_; }
  Hmac& hmac() { return hmac_; }

 private:
  const std::string key_id_;
  Hmac hmac_;
  std::optional<uint64_t> next_seq_;
  std::optional<Mac> prev_;
  std::string format_;
};

}  // namespace lawful::audit::internal
