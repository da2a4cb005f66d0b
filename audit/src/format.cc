// The line format: see format.h and the top of lawful/audit.h.
#include "format.h"

#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lawful::audit::internal {
namespace {

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xc0 | code_point >> 6));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | code_point >> 12));
    out->push_back(static_cast<char>(0x80 | (code_point >> 6 & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | code_point >> 18));
    out->push_back(static_cast<char>(0x80 | (code_point >> 12 & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code_point >> 6 & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  }
}

// A strict reader of the flat objects this library writes.
class FlatJson {
 public:
  explicit FlatJson(absl::string_view text) : text_(text) {}

  std::optional<Fields> Object() {
    Fields fields;
    SkipSpace();
    if (!Consume('{')) return std::nullopt;
    SkipSpace();
    if (Consume('}')) return End(std::move(fields));
    while (true) {
      std::string key, value;
      SkipSpace();
      if (!String(&key)) return std::nullopt;
      SkipSpace();
      if (!Consume(':')) return std::nullopt;
      SkipSpace();
      if (!(Peek() == '"' ? String(&value) : Integer(&value))) return std::nullopt;
      fields.emplace_back(std::move(key), std::move(value));
      SkipSpace();
      if (Consume('}')) return End(std::move(fields));
      if (!Consume(',')) return std::nullopt;
    }
  }

 private:
  std::optional<Fields> End(Fields fields) {
    SkipSpace();
    if (pos_ != text_.size()) return std::nullopt;
    return fields;
  }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c || pos_ >= text_.size()) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool Integer(std::string* out) {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    const size_t digits = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == digits) return false;
    *out = std::string(text_.substr(start, pos_ - start));
    return true;
  }
  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *out = value;
    return true;
  }
  bool String(std::string* out) {
    if (!Consume('"')) return false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return false;
      const char escape = text_[pos_++];
      switch (escape) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t code_point = 0;
          if (!Hex4(&code_point)) return false;
          if (code_point >= 0xd800 && code_point <= 0xdbff) {
            uint32_t low = 0;
            if (!Consume('\\') || !Consume('u') || !Hex4(&low) || low < 0xdc00 || low > 0xdfff)
              return false;
            code_point = 0x10000 + ((code_point - 0xd800) << 10) + (low - 0xdc00);
          } else if (code_point >= 0xdc00 && code_point <= 0xdfff) {
            return false;
          }
          AppendUtf8(code_point, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string FormatTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

void AppendMacAndEnd(const Mac& mac, std::string* out) {
  out->append(kMacField.data(), kMacField.size());
  AppendHex(mac.data(), mac.size(), out);
  out->append("\"}\n");
}

ScannedLine ScanLine(absl::string_view line) {
  ScannedLine out;
  constexpr size_t kTail = kMacField.size() + 2 * kMacBytes + 2;  // ,"mac":"<hex>"}
  if (line.size() >= 1 + kSeqField.size() + 1 + kTail && absl::EndsWith(line, "\"}")) {
    const size_t mac_start = line.size() - 2 - 2 * kMacBytes;
    if (line.substr(mac_start - kMacField.size(), kMacField.size()) == kMacField) {
      out.mac = ParseMacHex(line.substr(mac_start, 2 * kMacBytes));
      if (out.mac) out.body = line.substr(0, mac_start - kMacField.size());
    }
  }
  // The seq: the digits between the body's last `,"seq":` and its end (no string value can hold
  // that text: its quotes would be escaped). A line torn inside its mac still shows its seq.
  absl::string_view before_mac = out.body;
  if (!out.mac) {
    const size_t mac_field = line.rfind(kMacField);
    before_mac =
        mac_field == absl::string_view::npos ? absl::string_view() : line.substr(0, mac_field);
  }
  if (const size_t at = before_mac.rfind(kSeqField); at != absl::string_view::npos) {
    const absl::string_view digits = before_mac.substr(at + kSeqField.size());
    uint64_t seq = 0;
    // At most 19 digits: no overflow, and a real log never gets near.
    bool ok = !digits.empty() && digits.size() <= 19;
    for (const char c : digits) {
      ok = ok && c >= '0' && c <= '9';
      seq = seq * 10 + static_cast<uint64_t>(c - '0');
    }
    if (ok) out.seq = seq;
  }
  if (absl::StartsWith(line, kEventField)) {
    absl::string_view rest = line.substr(kEventField.size());
    const size_t quote = rest.find('"');
    if (quote != absl::string_view::npos) out.event = rest.substr(0, quote);
  }
  return out;
}

std::optional<Fields> ParseFields(absl::string_view line) { return FlatJson(line).Object(); }

const std::string* FindField(const Fields& fields, absl::string_view key) {
  for (const auto& [name, value] : fields) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::optional<StartRecord> ParseStart(absl::string_view line) {
  const std::optional<Fields> fields = ParseFields(line);
  if (!fields) return std::nullopt;
  const std::string* seq = FindField(*fields, "seq");
  const std::string* event = FindField(*fields, "event");
  const std::string* key = FindField(*fields, "key");
  const std::string* prev = FindField(*fields, "prev");
  const std::string* format = FindField(*fields, "log");
  StartRecord start;
  if (seq == nullptr || event == nullptr || *event != "start" || key == nullptr ||
      prev == nullptr || format == nullptr || !absl::SimpleAtoi(*seq, &start.seq)) {
    return std::nullopt;
  }
  const std::optional<Mac> prev_mac = ParseMacHex(*prev);
  if (!prev_mac) return std::nullopt;
  start.format = *format;
  start.key_id = *key;
  start.prev = *prev_mac;
  return start;
}

namespace {

// Reads the fields of a decision line (`request` false) or of a request line into `record`.
bool ParseInto(absl::string_view line, bool request, Record* record) {
  const std::optional<Fields> fields = ParseFields(line);
  if (!fields) return false;
  const std::string* event = FindField(*fields, "event");
  if (request ? (event == nullptr || *event != "request") : event != nullptr) return false;
  for (const auto& [name, value] : *fields) {
    if (request && name == "seq") {
      if (!absl::SimpleAtoi(value, &record->request_seq)) return false;
    } else if (!request && name == "seq") {
      if (!absl::SimpleAtoi(value, &record->seq)) return false;
    } else if (!request && name == "index") {
      if (!absl::SimpleAtoi(value, &record->index)) return false;
    } else {
      std::string* const targets[] = {
          &record->time,     &record->caller,  &record->request_id,  &record->rule_set,
          &record->purpose,  &record->channel, &record->notice_type, &record->at,
          &record->contact,  &record->outcome, &record->reason,      &record->rule,
          &record->evidence, &record->record,  &record->facts,       &record->mac};
      static constexpr absl::string_view kNames[] = {
          "time",        "caller", "request_id", "rule_set", "purpose", "channel",
          "notice_type", "at",     "contact",    "outcome",  "reason",  "rule",
          "evidence",    "record", "facts",      "mac"};
      static_assert(std::size(kNames) == std::size(targets));
      constexpr size_t kFirstDecisionField = 8;  // "contact"
      for (size_t i = 0; i < std::size(kNames); ++i) {
        if (name == kNames[i] && (i < kFirstDecisionField) == request) *targets[i] = value;
      }
    }
  }
  return true;
}

}  // namespace

bool ParseRecord(absl::string_view line, Record* record) {
  if (!ParseInto(line, false, record)) return false;
  record->text = std::string(line);
  return true;
}

bool ParseRequest(absl::string_view line, Record* request) {
  return ParseInto(line, true, request);
}

absl::StatusOr<bool> LineReader::Next(Line* line) {
  constexpr size_t kChunk = 1 << 20;
  // Garbage without newlines (a crash can leave megabytes of zeros) is read as one line; beyond
  // this it is not an audit log.
  constexpr size_t kMaxLine = size_t{256} << 20;
  size_t scan_from = pos_;
  while (true) {
    const size_t newline = buffer_.find('\n', scan_from);
    if (newline != std::string::npos) {
      line->text = absl::string_view(buffer_.data() + pos_, newline - pos_);
      line->complete = true;
      line->offset = buffer_offset_ + pos_;
      line->number = ++number_;
      pos_ = newline + 1;
      return true;
    }
    if (eof_) {
      if (pos_ >= buffer_.size()) return false;
      line->text = absl::string_view(buffer_.data() + pos_, buffer_.size() - pos_);
      line->complete = false;
      line->offset = buffer_offset_ + pos_;
      line->number = ++number_;
      pos_ = buffer_.size();
      return true;
    }
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      buffer_offset_ += pos_;
      pos_ = 0;
    }
    if (buffer_.size() > kMaxLine) {
      return absl::DataLossError(absl::StrCat("a line longer than ", kMaxLine >> 20,
                                              " MiB at byte ", buffer_offset_,
                                              ": not an audit log"));
    }
    scan_from = buffer_.size();
    buffer_.resize(scan_from + kChunk);
    absl::StatusOr<size_t> read = file_->Read(buffer_.data() + scan_from, kChunk);
    if (!read.ok()) return read.status();
    buffer_.resize(scan_from + *read);
    if (*read == 0) eof_ = true;
  }
}

absl::StatusOr<LineReader> OpenLines(FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = fs.OpenForRead(path);
  if (!file.ok()) return file.status();
  return LineReader(std::move(*file));
}

}  // namespace lawful::audit::internal
