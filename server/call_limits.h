// The server's own limits, beyond those gRPC enforces for it (--max_message_bytes per message,
// --max_concurrent_streams per HTTP/2 connection): how many deciding calls run at once across all
// connections, and how fast one DecideStream may send contacts.
//
// No gRPC here, so that the arithmetic is tested on its own; service.cc turns the statuses into
// gRPC's.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace lawful::server {

struct LimitOptions {
  // Deciding calls (Decide, DecideBatch, DecideStream) running at once, across every connection;
  // one more is RESOURCE_EXHAUSTED. 0: no limit.
  int64_t max_concurrent_calls = 0;
  // Contacts per second one DecideStream may send, averaged; 0: no limit.
  int64_t max_stream_contacts_per_second = 0;
};

// Counts the deciding calls in flight. A call over the limit is refused at once rather than
// queued: the caller learns within a round trip that this server is full, and its retry policy or
// load balancer can go elsewhere, while the calls already admitted keep their pace.
class CallLimiter {
 public:
  // A place held by one admitted call, given back when the slot goes away (or is moved from).
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : limiter_(other.limiter_) { other.limiter_ = nullptr; }
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }

   private:
    friend class CallLimiter;
    explicit Slot(CallLimiter* limiter) : limiter_(limiter) {}
    void Release();
    CallLimiter* limiter_ = nullptr;
  };

  // `max_calls` 0 means no limit (calls are still counted).
  explicit CallLimiter(int64_t max_calls) : max_calls_(max_calls) {}

  // A slot, or RESOURCE_EXHAUSTED naming the limit and --max_concurrent_calls.
  absl::StatusOr<Slot> Admit();
  int64_t in_flight() const { return calls_.load(std::memory_order_relaxed); }
  // Calls admitted since the start.
  int64_t admitted() const { return admitted_.load(std::memory_order_relaxed); }

 private:
  const int64_t max_calls_;
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> admitted_{0};
};

// Gives the memory freed after a burst of calls back to the operating system once no call is in
// flight. glibc keeps freed memory in its arenas (one per thread that allocated), so after a
// burst of large batches — or of calls cancelled mid-flight, which the server may still be
// deciding while their clients send more — the resident set would otherwise stay near the burst's
// peak for good. Only when idle: releasing takes the arenas' locks.
class IdleMemoryReleaser {
 public:
  // Looks every `interval` whether calls were admitted lately and none is in flight.
  IdleMemoryReleaser(const CallLimiter* calls, absl::Duration interval);
  ~IdleMemoryReleaser();
  IdleMemoryReleaser(const IdleMemoryReleaser&) = delete;
  IdleMemoryReleaser& operator=(const IdleMemoryReleaser&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

// Paces one DecideStream to an average rate, by how long the server waits before it reads the
// next chunk. A stream may send one second's worth of contacts at once; after that, the contacts
// it sends ahead of the rate are paid for by waiting. Waiting, not an error: a campaign that sends
// too fast is slowed down by HTTP/2 flow control as a slow server would slow it, and still
// finishes (within its deadline).
class StreamPacer {
 public:
  // `contacts_per_second` 0 means no pacing.
  explicit StreamPacer(int64_t contacts_per_second) : rate_(contacts_per_second) {}

  // Accounts for a chunk of `contacts` read at `now`; returns how long to wait before reading
  // the next one (zero when the stream is within its rate).
  absl::Duration Admit(int64_t contacts, absl::Time now);

 private:
  const int64_t rate_;
  // When the contacts accounted for so far would have been sent at exactly the rate (the
  // "theoretical arrival time" of the generic cell rate algorithm).
  absl::Time paid_until_ = absl::InfinitePast();
};

}  // namespace lawful::server
