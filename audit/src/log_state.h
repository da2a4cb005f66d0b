// The writer's state shared by its files: the chain and its file (Log::Chain), and a batch's
// lines formatted outside the lock (Log::Batch). Private to audit/src.
#pragma once

#include <openssl/sha.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "crypto.h"
#include "lawful/audit.h"

namespace lawful::audit {

struct Log::Chain {
  explicit Chain(const Key& key)
      : chain_mac(internal::KeyAccess::chain_key(key)),
        pseudonym_mac(internal::KeyAccess::pseudonym_key(key)) {}

  // Ends the current epoch: the next Append reopens the log, cutting what was not synced.
  void MarkBroken(absl::string_view reason) {
    broken = true;
    broken_reason = std::string(reason);
    epoch_durable.push_back(synced_total);
  }

  internal::Hmac chain_mac;
  internal::Hmac pseudonym_mac;  // never changes: Format reads it without the lock
  // Shared: a batch syncs the file it was written to even if a rotation has replaced it since.
  std::shared_ptr<AppendFile> file;
  uint64_t file_size = 0;         // bytes written (or, at open, verified) in the live file
  uint64_t synced_file_size = 0;  // of which this many are known to be on disk
  uint64_t file_lines = 0;
  uint64_t file_first_seq = 0;  // names the file when it is rotated
  uint64_t next_seq = 0;
  internal::Mac prev{};  // the mac of line next_seq - 1

  // Group commit: bytes written and synced, counted across files and reopenings (never reused).
  // A batch is acknowledged once synced_total reaches its end; one fdatasync covers every batch
  // written before it started.
  uint64_t written_total = 0;
  uint64_t synced_total = 0;
  // The log is reopened after a failure, which cuts everything past synced_file_size: for each
  // ended epoch, how far it was synced. A batch of an ended epoch beyond that was lost.
  std::vector<uint64_t> epoch_durable;

  // Set when the file may hold bytes that could not be cut off, or after a failed fdatasync
  // (after which the page cache cannot be trusted); the next Append reopens the log first.
  bool broken = false;
  std::string broken_reason;
  std::string buffer;  // reused: a batch is formatted here, then written with one write()
};

// A batch's decision lines as formatted outside the lock: each line's bytes before `,"seq":N`, and
// the chain mac's state after absorbing them, in parts that threads fill independently.
struct Log::Batch {
  struct Part {
    std::string text;                // the lines' starts, one after another
    std::vector<uint32_t> ends;      // where each ends in `text`
    std::vector<SHA256_CTX> states;  // the chain mac of each, started (Hmac::Start, Absorb)
  };
  // The batch's parts come first; any after them are kept from a larger batch before, so that
  // their buffers serve the next one (a one-record Decide between two 10,000-record batches
  // would otherwise free and reallocate megabytes).
  std::vector<Part> parts;
  size_t decisions = 0;

  absl::Span<Part> used() { return absl::MakeSpan(parts).first(PartsOf(decisions)); }
  absl::Span<const Part> used() const {
    return absl::MakeConstSpan(parts).first(PartsOf(decisions));
  }
  static size_t PartsOf(size_t records) {
    return (records + Session::kPartRecords - 1) / Session::kPartRecords;
  }
};

}  // namespace lawful::audit
