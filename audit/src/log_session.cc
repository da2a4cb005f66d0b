// The writing session (Log::Begin, Log::Session): a batch's decision lines formatted in parts on
// the caller's threads outside the log's lock (pseudonyms, JSON, most of each line's chain mac),
// then handed to the chain (log_append.cc) and waited for.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "crypto.h"
#include "format.h"
#include "lawful/audit.h"
#include "log_state.h"

namespace lawful::audit {

namespace {

// Writes a string literal's bytes (without its NUL) at `p`; returns their end.
template <size_t N>
char* Put(char* p, const char (&literal)[N]) {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

char* PutInt(char* p, int64_t value) {
  return std::to_chars(p, p + 20, value).ptr;  // 20: INT64_MIN's digits and sign
}

// One decision line up to its tail, appended to `out`. The line is written into memory sized for
// its longest form (every string escaped at 6 bytes a byte), so each piece is a plain store
// rather than a string append with its own capacity check: this runs 10,000 times a batch.
void FormatDecision(const DecisionRecord& d, const internal::Hmac& pseudonym_mac,
                    std::string& out) {
  // The literals (~100 bytes), two pseudonyms (22 each), two integers (40).
  constexpr size_t kFixed = 256;
  const size_t bound =
      kFixed + text::MaxJsonChars(d.outcome.size() + d.reason.size() + d.rule_policy.size() +
                                  d.rule.size() + d.evidence_field.size() + d.facts.size());
  internal::Scratch<2048> scratch;
  char* const line = scratch.get(bound);
  // The record id is the caller's (a contact id, an e-mail address): only its pseudonym is
  // written, by the contact's function, both hashed at once. An id that is the contact id needs
  // no second HMAC.
  const bool has_record = !d.evidence_field.empty() && !d.evidence_id.empty();
  internal::Mac pseudonym, record;
  if (has_record && d.evidence_id != d.contact_id) {
    internal::PseudonymsOf(pseudonym_mac, d.contact_id, d.evidence_id, &pseudonym, &record);
  } else {
    pseudonym = internal::PseudonymOf(pseudonym_mac, d.contact_id);
    record = pseudonym;
  }
  char* p = Put(line, "{\"contact\":\"");
  p = internal::WritePseudonym(pseudonym, p);
  p = PutInt(Put(p, "\",\"index\":"), d.index);
  p = internal::WriteJsonChars(d.outcome, Put(p, ",\"outcome\":\""));
  p = internal::WriteJsonChars(d.reason, Put(p, "\",\"reason\":\""));
  p = Put(p, "\",\"rule\":\"");
  if (!d.rule_policy.empty()) p = Put(internal::WriteJsonChars(d.rule_policy, p), ".");
  p = Put(internal::WriteJsonChars(d.rule, p), "\"");
  // Evidence most denials do not have is left out rather than written empty: every byte is
  // written, synced and hashed.
  if (!d.evidence_field.empty()) {
    p = internal::WriteJsonChars(d.evidence_field, Put(p, ",\"evidence\":\""));
    p = Put(PutInt(Put(p, "["), d.evidence_index), "]\"");
    if (has_record) p = Put(internal::WritePseudonym(record, Put(p, ",\"record\":\"")), "\"");
  }
  p = Put(internal::WriteJsonChars(d.facts, Put(p, ",\"facts\":\"")), "\"");
  out.append(line, static_cast<size_t>(p - line));
}

}  // namespace

Log::Session Log::Begin(const Request& request, size_t count) {
  std::unique_ptr<Batch> batch;
  {
    std::lock_guard<std::mutex> lock(spare_mu_);
    if (!spare_.empty()) {
      batch = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (batch == nullptr) batch = std::make_unique<Batch>();
  batch->decisions = count;
  if (batch->parts.size() < Batch::PartsOf(count)) batch->parts.resize(Batch::PartsOf(count));
  // A part left from an earlier batch must not pass for appended (see Write).
  for (Batch::Part& part : batch->used()) part.ends.clear();
  return Session(this, request, std::move(batch), count);
}

void Log::Recycle(std::unique_ptr<Batch> batch) {
  std::lock_guard<std::mutex> lock(spare_mu_);
  spare_.push_back(std::move(batch));
}

Log::Session::Session(Log* log, const Request& request, std::unique_ptr<Batch> batch, size_t size)
    : log_(log), request_(request), batch_(std::move(batch)), size_(size) {}

Log::Session::Session(Session&& other) noexcept = default;

Log::Session& Log::Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Release();
    log_ = other.log_;
    request_ = other.request_;
    batch_ = std::move(other.batch_);
    size_ = other.size_;
    state_ = other.state_;
    written_ = other.written_;
    failed_ = std::move(other.failed_);
  }
  return *this;
}

Log::Session::~Session() { Release(); }

void Log::Session::Release() {
  if (batch_ != nullptr) log_->Recycle(std::move(batch_));
}

void Log::Session::Append(size_t first, size_t last,
                          absl::FunctionRef<void(size_t, DecisionRecord*)> record) {
  const size_t count = size_;
  // A range that does not fall on parts would format a part another thread may be formatting:
  // a caller's bug, stopped here rather than left to corrupt the batch.
  if (batch_ == nullptr || first % kPartRecords != 0 || first > last || last > count ||
      (last % kPartRecords != 0 && last != count)) {
    if (batch_ == nullptr) {
      std::fprintf(stderr, "audit::Log::Session::Append(%zu, %zu) after Write\n", first, last);
    } else {
      std::fprintf(stderr,
                   "audit::Log::Session::Append(%zu, %zu) of %zu records: not whole parts of %zu\n",
                   first, last, count, kPartRecords);
    }
    std::abort();
  }
  // The keys' pad states are only read (Sign and Start copy them), so threads share them.
  const internal::Hmac& pseudonym_mac = log_->chain_->pseudonym_mac;
  const internal::Hmac& chain_mac = log_->chain_->chain_mac;
  DecisionRecord d;
  for (size_t p = first / kPartRecords; p * kPartRecords < last; ++p) {
    Batch::Part& part = batch_->parts[p];
    part.text.clear();
    part.ends.clear();
    part.states.clear();
    const size_t begin = p * kPartRecords;
    const size_t end = std::min(count, begin + kPartRecords);
    part.text.reserve((end - begin) * 300);
    part.ends.reserve(end - begin);
    part.states.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      d = DecisionRecord();
      record(i, &d);
      const size_t start = part.text.size();
      FormatDecision(d, pseudonym_mac, part.text);
      part.ends.push_back(static_cast<uint32_t>(part.text.size()));
      // Most of the line's chain mac, here on this thread rather than under the log's lock.
      SHA256_CTX& state = part.states.emplace_back(chain_mac.Start());
      internal::Hmac::Absorb(&state, absl::string_view(part.text).substr(start));
    }
  }
}

absl::Status Log::Session::Write() {
  if (state_ != State::kAppending) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit log ", log_->path(), ": the session was written already"));
  }
  if (size_ == 0) {  // nothing to record: no request line either
    state_ = State::kWritten;
    Release();
    return absl::OkStatus();
  }
  absl::Status status;
  const Batch& batch = *batch_;
  for (size_t p = 0; p < batch.used().size() && status.ok(); ++p) {
    const size_t records = std::min(batch.decisions - p * kPartRecords, kPartRecords);
    if (batch.used()[p].ends.size() != records) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "audit log ", log_->path(), ": records ", p * kPartRecords, " to ",
          p * kPartRecords + records - 1, " of the batch were not appended; nothing was written"));
    }
  }
  if (status.ok()) status = log_->WriteBatch(request_, *batch_, &written_);
  request_ = Request();  // its views need not outlive the Write
  Release();
  if (!status.ok()) {
    state_ = State::kFailed;
    failed_ = status;
    return status;
  }
  state_ = State::kWritten;
  return absl::OkStatus();
}

absl::Status Log::Session::Wait() {
  switch (state_) {
    case State::kAppending:
      return absl::FailedPreconditionError(
          absl::StrCat("audit log ", log_->path(), ": Wait before Write; nothing was recorded"));
    case State::kFailed:
      return failed_;
    case State::kWritten:
      break;
  }
  if (written_.decisions == 0) return absl::OkStatus();
  return log_->Sync(written_);
}

absl::Status Log::Session::Commit() {
  if (absl::Status written = Write(); !written.ok()) return written;
  return Wait();
}

}  // namespace lawful::audit
