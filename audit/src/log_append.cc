// Appending a session's batch to the file: its request line, each line's seq and chain mac in
// order under the lock, one write() (Log::WriteBatch, for Session::Write), and the
// group-committed fdatasync that acknowledges it (Log::Sync, for Session::Wait).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "crypto.h"
#include "format.h"
#include "lawful/audit.h"
#include "log_state.h"

namespace lawful::audit {

absl::Status Log::WriteBatch(const Request& request, Batch& batch, Written* written) {
  std::lock_guard<std::mutex> lock(mu_);
  Chain& c = *chain_;
  if (c.broken) {
    absl::StatusOr<std::optional<Recovery>> reopened = OpenLive(c.synced_file_size);
    if (!reopened.ok()) {
      return absl::UnavailableError(
          absl::StrCat("audit log ", options_.path, " failed earlier (", c.broken_reason,
                       ") and cannot be reopened: ", reopened.status().message(),
                       "; the decisions were not recorded"));
    }
    Notice(absl::StrCat("audit log ", options_.path, ": reopened after an earlier failure (",
                        c.broken_reason, ")"));
  }
  if (options_.max_file_bytes > 0 && c.file_size >= options_.max_file_bytes && c.file_lines > 1) {
    if (absl::Status s = Rotate(); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("audit log ", options_.path, ": rotation failed: ",
                                                 s.message(), "; the decisions were not recorded"));
    }
  }

  // One request line carries what the call's decisions share, and the decision lines follow it.
  // The lines are what the chain hashes, so what is not repeated is not hashed 10,000 times
  // either; nor is a link to the request line, which its place already gives.
  std::string& out = c.buffer;
  out.clear();
  size_t bytes = 512;
  for (const Batch::Part& part : batch.used()) bytes += part.text.size() + part.ends.size() * 128;
  out.reserve(bytes);
  uint64_t seq = c.next_seq;
  internal::Mac prev = c.prev;
  absl::StrAppend(
      &out, internal::kEventField, "request\",\"time\":\"",
      internal::FormatTime(request.time == absl::InfinitePast() ? options_.clock() : request.time),
      "\",\"caller\":");
  internal::AppendJsonString(request.caller, &out);
  out += ",\"request_id\":";
  internal::AppendJsonString(request.request_id, &out);
  out += ",\"rule_set\":";
  internal::AppendJsonString(request.rule_set, &out);
  out += ",\"purpose\":";
  internal::AppendJsonString(request.purpose, &out);
  out += ",\"channel\":";
  internal::AppendJsonString(request.channel, &out);
  if (!request.notice_type.empty()) {
    out += ",\"notice_type\":";
    internal::AppendJsonString(request.notice_type, &out);
  }
  absl::StrAppend(&out, ",\"at\":\"", internal::FormatTime(request.at),
                  "\",\"decisions\":", batch.decisions, internal::kSeqField, seq);
  prev = internal::ChainMac(c.chain_mac, prev, out);
  internal::AppendMacAndEnd(prev, &out);
  ++seq;

  // The serial part: each line's seq, then its mac, which covers the one before.
  for (Batch::Part& part : batch.used()) {
    uint32_t begin = 0;
    for (size_t i = 0; i < part.ends.size(); ++i) {
      const uint32_t end = part.ends[i];
      out.append(part.text, begin, end - begin);
      begin = end;
      const size_t tail = out.size();
      absl::StrAppend(&out, internal::kSeqField, seq);
      SHA256_CTX& state = part.states[i];
      internal::Hmac::Absorb(&state, absl::string_view(out).substr(tail));
      internal::Hmac::Absorb(&state, internal::AsBytes(prev));
      prev = c.chain_mac.Finish(&state);
      internal::AppendMacAndEnd(prev, &out);
      ++seq;
    }
  }

  if (absl::Status s = c.file->Append(out); !s.ok()) {
    // Cut the partial batch off so that the chain continues from the last batch written.
    if (absl::Status t = c.file->Truncate(c.file_size); !t.ok()) {
      c.MarkBroken(absl::StrCat(s.message(), ", then ", t.message()));
    }
    return absl::UnavailableError(absl::StrCat("audit log ", options_.path, ": ", s.message(),
                                               "; the ", batch.decisions,
                                               " decisions were not recorded"));
  }
  c.next_seq = seq;
  c.prev = prev;
  c.file_size += out.size();
  c.file_lines += batch.decisions + 1;
  c.written_total += out.size();
  *written = Written{c.written_total, c.epoch_durable.size(), batch.decisions};
  return absl::OkStatus();
}

absl::Status Log::Sync(const Written& written) {
  const auto lost = [&](absl::string_view why) {
    return absl::UnavailableError(absl::StrCat("audit log ", options_.path, ": ", why, "; the ",
                                               written.decisions, " decisions were not recorded"));
  };
  // One fdatasync at a time: while one runs, the batches written meanwhile queue here, and the
  // next one covers all of them.
  std::lock_guard<std::mutex> sync_lock(sync_mu_);
  std::shared_ptr<AppendFile> file;
  uint64_t target_total = 0, target_file_size = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Chain& c = *chain_;
    if (written.epoch < c.epoch_durable.size()) {
      if (written.end <= c.epoch_durable[written.epoch]) return absl::OkStatus();
      return lost(c.broken_reason);
    }
    if (written.end <= c.synced_total) return absl::OkStatus();  // another batch's sync did it
    file = c.file;
    target_total = c.written_total;
    target_file_size = c.file_size;
  }
  // The file it was written to: a rotation since then synced it already (see above).
  const absl::Status synced = file->Sync();
  std::lock_guard<std::mutex> lock(mu_);
  Chain& c = *chain_;
  if (written.epoch < c.epoch_durable.size()) {
    // The log failed meanwhile and its reopening cuts what was not synced when it failed.
    if (written.end <= c.epoch_durable[written.epoch]) return absl::OkStatus();
    return lost(c.broken_reason);
  }
  if (!synced.ok()) {
    c.MarkBroken(synced.message());
    return lost(synced.message());
  }
  c.synced_total = std::max(c.synced_total, target_total);
  if (file == c.file) c.synced_file_size = std::max(c.synced_file_size, target_file_size);
  return absl::OkStatus();
}

Head Log::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Head{chain_->next_seq - 1, internal::Hex(chain_->prev)};
}

}  // namespace lawful::audit
