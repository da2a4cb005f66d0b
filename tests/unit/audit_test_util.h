// What the audit log's tests share (audit_*_test.cc): a key, decisions and requests, a log opened
// and a batch committed through a session, the file's lines.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "lawful/audit.h"
#include "lawful/testkit.h"

namespace lawful::audit {

inline constexpr char kKeyHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

inline Key TestKey(absl::string_view hex = kKeyHex) {
  absl::StatusOr<Key> key = Key::FromKeyFile(hex, "test.key");
  EXPECT_TRUE(key.ok()) << key.status();
  return *key;
}

inline const absl::Time kDecidedAt = absl::FromUnixSeconds(1772442000);  // 2026-03-02T09:00:00Z

// Decisions about contacts `<prefix>-0`, `<prefix>-1`, …; owns the strings the records view.
struct Batch {
  Batch(const std::string& prefix, int size) {
    for (int i = 0; i < size; ++i) ids.push_back(absl::StrCat(prefix, "-", i));
    for (int i = 0; i < size; ++i) {
      DecisionRecord d;
      d.contact_id = ids[i];
      d.index = i;
      d.outcome = i % 3 == 0 ? "deny" : "allow";
      d.reason = i % 3 == 0 ? "no_lawful_basis" : "consent";
      d.rule_policy = "marketing";
      d.rule = i % 3 == 0 ? "no_lawful_basis" : "consent";
      if (i % 3 != 0) {
        d.evidence_field = "consents";
        d.evidence_index = i % 2;
        d.evidence_id = "k-17";
      }
      d.facts = "3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
      records.push_back(d);
    }
  }
  std::vector<std::string> ids;
  std::vector<DecisionRecord> records;
};

inline Request TestRequest(absl::string_view request_id = "r-1") {
  Request request;
  request.time = kDecidedAt;
  request.caller = "CN=crm.example.com";
  request.request_id = request_id;
  request.rule_set = "e0fd353695f7";
  request.purpose = "newsletter";
  request.channel = "email";
  request.at = kDecidedAt;
  return request;
}

// OpenSSL's one-shot HMAC-SHA256, to check the log's macs and keys against.
inline std::string OpenSslHmac(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

inline Options TestOptions(const std::filesystem::path& path) {
  Options options;
  options.path = path.string();
  options.key = TestKey();
  options.clock = [] { return kDecidedAt; };
  return options;
}

inline std::unique_ptr<Log> OpenOrDie(Options options) {
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(std::move(options));
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

// Verify on the chain of `path`, which must pass.
inline VerifyReport ExpectVerifies(const std::string& path) {
  absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path});
  EXPECT_TRUE(report.ok()) << report.status();
  if (!report.ok()) return {};
  EXPECT_TRUE(report->ok()) << report->problem->ToString();
  return *report;
}

// One batch through a session, appended on this thread: Begin, Append, Commit.
inline absl::Status CommitBatch(Log& log, const Request& request,
                                absl::Span<const DecisionRecord> records) {
  Log::Session session = log.Begin(request, records.size());
  session.Append(0, records.size(), [&](size_t i, DecisionRecord* out) { *out = records[i]; });
  return session.Commit();
}

// A log at `path` holding one batch of `size` decisions about c-0, c-1, …, closed again.
inline void WriteOneBatch(const std::filesystem::path& path, int size) {
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  Batch batch("c", size);
  ASSERT_TRUE(CommitBatch(*log, TestRequest(), batch.records).ok());
}

inline std::vector<std::string> Lines(const std::filesystem::path& path) {
  std::vector<std::string> lines = absl::StrSplit(testkit::ReadFile(path), '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

inline void WriteLines(const std::filesystem::path& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) absl::StrAppend(&text, line, "\n");
  testkit::WriteFile(path, text);
}

// A decision about `contact` that relied on the record `record_id` (a consent, or an objection).
inline DecisionRecord RelyingOn(absl::string_view contact, int64_t index,
                                absl::string_view record_id, bool objection = false) {
  DecisionRecord d;
  d.contact_id = contact;
  d.index = index;
  d.outcome = objection ? "deny" : "allow";
  d.reason = objection ? "objection" : "consent";
  d.rule_policy = "marketing";
  d.rule = d.reason;
  d.evidence_field = objection ? "objections" : "consents";
  d.evidence_index = 0;
  d.evidence_id = record_id;
  d.facts = "3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
  return d;
}

}  // namespace lawful::audit
