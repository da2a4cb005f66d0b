// The rule set lawfuld serves, and the archived ones it can replay.
//
// The rule set is held as an immutable snapshot behind a shared_ptr. Every RPC takes one snapshot
// when it starts and decides everything with it, so a reload (SIGHUP, the file watcher) never
// mixes two rule sets within one answer and never blocks a request for longer than a pointer copy.
//
// No gRPC here, and std::mutex rather than absl::Mutex: ThreadSanitizer sees into neither
// Debian's gRPC nor its Abseil, and the swap is tested under TSan (rule_set_store_test).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lawful/engine.h"
#include "lawful/v1/service.pb.h"

namespace lawful::server {

// One loaded rule set and what GetRuleSet reports about it, computed once at load.
struct Snapshot {
  std::shared_ptr<const RuleSet> rule_set;
  absl::Time loaded_at;
  // The formatted warnings the rules compiled with; empty when there were none.
  std::string warnings;
  // GetRuleSet's answer for this snapshot, without last_reload_error (that belongs to the store).
  lawful::v1::RuleSetInfo info;
};

// What GetRuleSet reports for a rule set: files, purposes, policies and their rules.
lawful::v1::RuleSetInfo DescribeRuleSet(const RuleSet& rule_set, absl::Time loaded_at);

// The rule set currently served, and the outcome of the last attempt to replace it.
class RuleSetStore {
 public:
  // With `archive_dir`, every rule set loaded is first archived there (dsl::ArchiveRuleSet): a
  // rule set that cannot be archived is not served, so every decision can be replayed later.
  explicit RuleSetStore(std::string rules_dir, std::string archive_dir = "");

  // Loads the rule files from the rules directory. On success the new snapshot is served from
  // the next RPC on and last_reload_error is cleared. On failure the served snapshot (if any) is
  // kept, the error (formatted diagnostics) is remembered as last_reload_error and returned.
  // Reloads are serialized, so a slower, older load never replaces a newer one.
  absl::Status Reload();

  // The snapshot to decide with; null until the first successful Reload().
  std::shared_ptr<const Snapshot> Current() const;
  // The snapshot of rule-set `version`: the one served, or one from the archive (loaded once and
  // kept). NotFound when neither has it.
  absl::StatusOr<std::shared_ptr<const Snapshot>> Version(const std::string& version) const;
  std::string last_reload_error() const;
  const std::string& rules_dir() const { return rules_dir_; }

 private:
  const std::string rules_dir_;
  const std::string archive_dir_;
  std::mutex reload_mu_;   // held for a whole Reload(), never by RPCs
  mutable std::mutex mu_;  // held only to copy or swap current_ and last_reload_error_
  std::shared_ptr<const Snapshot> current_;
  std::string last_reload_error_;
  mutable std::mutex archived_mu_;  // held while an archived rule set loads (rare: Explain only)
  mutable absl::flat_hash_map<std::string, std::shared_ptr<const Snapshot>> archived_;
};

}  // namespace lawful::server
