// One description of the encoding, Visit(), walked by a reader and by a writer, so the two cannot
// drift apart: fields in declaration order, integers as zigzag varints, texts and vectors as a
// count then their elements.
#include "program_codec.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace lawful::fuzz {
namespace {

// Caps that keep one input cheap: libFuzzer wants thousands of executions a second, and the
// verifier's own limits (much larger) are reached through the header fields, not through size.
constexpr size_t kMaxCode = 1 << 13;
constexpr size_t kMaxEntries = 256;

// Time zones are an index into this table rather than a name: a name is a path below the tz
// database, and a fuzzer must not go opening files. The last entry is not a zone.
constexpr const char* kZones[] = {"UTC", "Europe/Stockholm", "America/New_York", "Asia/Kathmandu",
                                  "Nowhere/Invalid"};
constexpr size_t kNumZones = sizeof(kZones) / sizeof(kZones[0]);

class Reader {
 public:
  explicit Reader(std::string_view& in) : in_(in) {}

  uint64_t Varint() {
    uint64_t out = 0;
    for (int shift = 0; shift < 64 && !in_.empty(); shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      out |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    return out;
  }

  template <typename T>
  void Int(T& v) {
    const uint64_t z = Varint();
    const int64_t s = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    if constexpr (std::is_enum_v<T>) {
      v = static_cast<T>(static_cast<std::underlying_type_t<T>>(s));
    } else {
      v = static_cast<T>(s);
    }
  }

  // A count is never more than the bytes left, so inputs cannot ask for huge vectors of zeros.
  size_t Count(size_t, size_t cap) { return std::min<uint64_t>({Varint(), cap, in_.size()}); }

  void Text(std::string& s) {
    const size_t n = Count(0, in_.size());
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
  }

  template <typename T, typename F>
  void Vector(std::vector<T>& v, size_t cap, F each) {
    v.resize(Count(v.size(), cap));
    for (T& x : v) each(x);
  }

  void Zone(std::string& name) {
    uint64_t i = Varint();
    name = kZones[i % kNumZones];
  }

  // Spans: 0 gives every instruction an empty span; anything else reads an explicit list (whose
  // length may differ from the code's, which the verifier must notice).
  void Spans(Program& p) {
    if (Varint() == 0) {
      p.spans.assign(p.code.size(), SourceSpan{});
      return;
    }
    Vector(p.spans, kMaxCode, [&](SourceSpan& s) {
      Int(s.file);
      Int(s.line);
      Int(s.column);
    });
  }

 private:
  std::string_view& in_;
};

class Writer {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }

  template <typename T>
  void Int(T& v) {
    int64_t s;
    if constexpr (std::is_enum_v<T>) {
      s = static_cast<int64_t>(static_cast<std::underlying_type_t<T>>(v));
    } else {
      s = static_cast<int64_t>(v);
    }
    Varint((static_cast<uint64_t>(s) << 1) ^ static_cast<uint64_t>(s >> 63));
  }

  size_t Count(size_t n, size_t cap) {
    n = std::min(n, cap);
    Varint(n);
    return n;
  }

  void Text(std::string& s) {
    Varint(s.size());
    out_ += s;
  }

  template <typename T, typename F>
  void Vector(std::vector<T>& v, size_t cap, F each) {
    const size_t n = Count(v.size(), cap);
    for (size_t i = 0; i < n; ++i) each(v[i]);
  }

  void Zone(std::string& name) {
    size_t i = 0;
    while (i + 1 < kNumZones && name != kZones[i]) ++i;
    Varint(name == kZones[i] ? i : kNumZones - 1);
  }

  void Spans(Program&) { Varint(0); }

  std::string& out() { return out_; }

 private:
  std::string out_;
};

template <typename IO>
void Visit(IO& io, Program& p) {
  io.Int(p.prelude);
  io.Int(p.num_registers);
  io.Int(p.num_locals);
  io.Int(p.num_memo_flags);
  io.Vector(p.code, kMaxCode, [&](Instr& in) {
    io.Int(in.op);
    io.Int(in.c);
    io.Int(in.a);
    io.Int(in.b);
  });
  io.Spans(p);
  io.Vector(p.ints, kMaxEntries, [&](int64_t& v) { io.Int(v); });
  io.Vector(p.strings, kMaxEntries, [&](std::string& s) { io.Text(s); });
  io.Vector(p.durations, kMaxEntries, [&](CalendarDuration& d) {
    io.Int(d.months);
    io.Int(d.days);
  });
  io.Vector(p.zones, kMaxEntries, [&](std::string& z) { io.Zone(z); });
  io.Vector(p.sets, kMaxEntries, [&](std::vector<int64_t>& set) {
    io.Vector(set, kMaxEntries, [&](int64_t& v) { io.Int(v); });
  });
  io.Vector(p.purposes, kMaxEntries, [&](std::string& s) { io.Text(s); });
  io.Vector(p.files, kMaxEntries, [&](std::string& s) { io.Text(s); });
  io.Vector(p.sources, kMaxEntries, [&](std::string& s) { io.Text(s); });
  io.Vector(p.rules, kMaxEntries, [&](Rule& r) {
    io.Text(r.name);
    io.Text(r.reason);
    io.Text(r.policy);
    io.Int(r.outcome);
    io.Text(r.citation);
    io.Vector(r.obligations, kMaxEntries, [&](std::string& s) { io.Text(s); });
    io.Text(r.note);
    io.Int(r.span.file);
    io.Int(r.span.line);
    io.Int(r.evidence_list);
    io.Int(r.entry);
  });
  io.Vector(p.policies, kMaxEntries, [&](Policy& policy) {
    io.Text(policy.name);
    io.Vector(policy.purposes, kMaxEntries, [&](int32_t& v) { io.Int(v); });
    io.Int(policy.channels);
    io.Int(policy.effective_from);
    io.Int(policy.effective_until);
    io.Int(policy.entry);
    io.Vector(policy.rules, kMaxEntries, [&](int32_t& v) { io.Int(v); });
  });
  FactLayout& layout = p.layout;
  io.Int(layout.contact_slots);
  io.Vector(layout.lists, kMaxEntries, [&](ListLayout& list) {
    io.Text(list.name);
    io.Int(list.records);
    io.Int(list.width);
    io.Int(list.id_slot);
  });
  io.Vector(layout.messages, kMaxEntries, [&](MessageLayout& m) {
    io.Vector(m.fields, kMaxEntries, [&](FactField& f) {
      io.Int(f.number);
      io.Int(f.kind);
      io.Int(f.element);
      io.Int(f.slot);
      io.Int(f.message);
      io.Text(f.name);
    });
  });
}

}  // namespace

Program DecodeProgram(std::string_view& bytes) {
  Program p;
  Reader reader(bytes);
  Visit(reader, p);
  return p;
}

std::string EncodeProgram(const Program& program) {
  Program copy = program;
  Writer writer;
  Visit(writer, copy);
  return std::move(writer.out());
}

}  // namespace lawful::fuzz
