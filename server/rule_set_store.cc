#include "rule_set_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lawful/dsl.h"

namespace lawful::server {

lawful::v1::RuleSetInfo DescribeRuleSet(const RuleSet& rule_set, absl::Time loaded_at) {
  const Program& program = rule_set.program();
  lawful::v1::RuleSetInfo info;
  info.set_version(rule_set.version());
  ToProto(loaded_at, info.mutable_loaded_at());
  for (const std::string& file : program.files) info.add_files(file);
  for (const std::string& purpose : program.purposes) info.add_purposes(purpose);
  for (const Policy& policy : program.policies) {
    lawful::v1::PolicyInfo* policy_info = info.add_policies();
    policy_info->set_name(policy.name);
    for (int32_t purpose : policy.purposes) {
      if (purpose >= 0 && static_cast<size_t>(purpose) < program.purposes.size()) {
        policy_info->add_purposes(program.purposes[purpose]);
      }
    }
    for (int channel = lawful::v1::Channel_MIN; channel <= lawful::v1::Channel_MAX; ++channel) {
      if (channel != lawful::v1::CHANNEL_UNSPECIFIED && (policy.channels & (1u << channel)) != 0) {
        policy_info->add_channels(static_cast<lawful::v1::Channel>(channel));
      }
    }
    for (int32_t index : policy.rules) {
      if (index < 0 || static_cast<size_t>(index) >= program.rules.size()) continue;
      const Rule& rule = program.rules[index];
      lawful::v1::RuleInfo* rule_info = policy_info->add_rules();
      lawful::v1::RuleRef* ref = rule_info->mutable_rule();
      ref->set_name(rule.name);
      ref->set_policy(rule.policy);
      if (rule.span.file < program.files.size()) ref->set_file(program.files[rule.span.file]);
      ref->set_line(rule.span.line);
      rule_info->set_outcome(ToProto(rule.outcome));
      rule_info->set_reason(rule.reason);
      rule_info->set_citation(rule.citation);
      rule_info->set_note(rule.note);
      for (const std::string& o : rule.obligations) rule_info->add_obligations(o);
    }
  }
  return info;
}

namespace {

std::shared_ptr<Snapshot> MakeSnapshot(dsl::LoadedRuleSet loaded) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->rule_set = std::move(loaded.rule_set);
  snapshot->loaded_at = absl::Now();
  if (!loaded.warnings.empty())
    snapshot->warnings = dsl::FormatDiagnostics(loaded.warnings, loaded.sources);
  snapshot->info = DescribeRuleSet(*snapshot->rule_set, snapshot->loaded_at);
  return snapshot;
}

}  // namespace

RuleSetStore::RuleSetStore(std::string rules_dir, std::string archive_dir)
    : rules_dir_(std::move(rules_dir)), archive_dir_(std::move(archive_dir)) {}

absl::Status RuleSetStore::Reload() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(rules_dir_);
  if (loaded.ok() && !archive_dir_.empty()) {
    // Archived before it decides anything: a decision whose rules cannot be replayed is not given.
    if (absl::Status archived = dsl::ArchiveRuleSet(archive_dir_, *loaded); !archived.ok())
      loaded = archived;
  }
  if (!loaded.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    last_reload_error_ = std::string(loaded.status().message());
    return loaded.status();
  }
  std::shared_ptr<const Snapshot> snapshot = MakeSnapshot(*std::move(loaded));
  std::lock_guard<std::mutex> lock(mu_);
  current_.swap(snapshot);
  last_reload_error_.clear();
  // `snapshot` now holds the old rule set: unless an RPC still holds it, it is freed when this
  // returns, after the lock is released, so readers never wait for a rule set's destruction.
  return absl::OkStatus();
}

std::shared_ptr<const Snapshot> RuleSetStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const Snapshot>> RuleSetStore::Version(
    const std::string& version) const {
  if (std::shared_ptr<const Snapshot> current = Current();
      current != nullptr && current->rule_set->version() == version) {
    return current;
  }
  if (archive_dir_.empty()) {
    return absl::NotFoundError(
        absl::StrCat("rule_set_version: ", version,
                     " is not served and this server keeps no archive (--archive_dir)"));
  }
  std::lock_guard<std::mutex> lock(archived_mu_);
  if (auto it = archived_.find(version); it != archived_.end()) return it->second;
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadArchivedRuleSet(archive_dir_, version);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(),
                        absl::StrCat("rule_set_version: ", loaded.status().message()));
  }
  std::shared_ptr<const Snapshot> snapshot = MakeSnapshot(*std::move(loaded));
  archived_[version] = snapshot;
  return snapshot;
}

std::string RuleSetStore::last_reload_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_reload_error_;
}

}  // namespace lawful::server
