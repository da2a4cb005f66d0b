#include "call_limits.h"

#include <malloc.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace lawful::server {

CallLimiter::Slot& CallLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    limiter_ = std::exchange(other.limiter_, nullptr);
  }
  return *this;
}

void CallLimiter::Slot::Release() {
  if (limiter_ != nullptr) limiter_->calls_.fetch_sub(1, std::memory_order_relaxed);
  limiter_ = nullptr;
}

absl::StatusOr<CallLimiter::Slot> CallLimiter::Admit() {
  const int64_t before = calls_.fetch_add(1, std::memory_order_relaxed);
  if (max_calls_ > 0 && before >= max_calls_) {
    calls_.fetch_sub(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrFormat(
        "server busy: %d calls in flight, the limit is %d (--max_concurrent_calls); retry later "
        "with backoff or on another server",
        before, max_calls_));
  }
  admitted_.fetch_add(1, std::memory_order_relaxed);
  return Slot(this);
}

IdleMemoryReleaser::IdleMemoryReleaser(const CallLimiter* calls, absl::Duration interval)
    : thread_([this, calls, interval] {
        // Released on a few idle looks after the last call, not one: the transport frees a
        // finished call's buffers a moment after the call itself ends.
        constexpr int kReleasesAfterActivity = 3;
        int64_t seen = 0;  // calls admitted at the last look
        int releases_due = 0;
        while (!stop_.WaitForNotificationWithTimeout(interval)) {
          if (const int64_t admitted = calls->admitted(); admitted != seen) {
            seen = admitted;
            releases_due = kReleasesAfterActivity;
          }
          if (releases_due == 0 || calls->in_flight() > 0) continue;
          malloc_trim(0);
          --releases_due;
        }
      }) {}

IdleMemoryReleaser::~IdleMemoryReleaser() {
  stop_.Notify();
  thread_.join();
}

absl::Duration StreamPacer::Admit(int64_t contacts, absl::Time now) {
  if (rate_ <= 0 || contacts <= 0) return absl::ZeroDuration();
  // The burst a stream may send ahead of its rate without waiting: one second's worth.
  constexpr absl::Duration kBurst = absl::Seconds(1);
  paid_until_ = std::max(paid_until_, now) + absl::Seconds(contacts) / rate_;
  return std::max(absl::ZeroDuration(), paid_until_ - now - kBurst);
}

}  // namespace lawful::server
