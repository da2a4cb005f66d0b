// The server-wide call cap and the per-stream pace, without a server.
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "call_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lawful::server {
namespace {

using ::testing::HasSubstr;

TEST(CallLimiter, RefusesTheCallOverTheLimitNamingTheFlagAndGivesPlacesBack) {
  CallLimiter limiter(2);
  absl::StatusOr<CallLimiter::Slot> first = limiter.Admit();
  absl::StatusOr<CallLimiter::Slot> second = limiter.Admit();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  const absl::StatusOr<CallLimiter::Slot> third = limiter.Admit();
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("2 calls in flight, the limit is 2"));
  EXPECT_THAT(third.status().message(), HasSubstr("--max_concurrent_calls"));
  EXPECT_EQ(limiter.in_flight(), 2);

  // A moved slot is given back once, by its last owner.
  CallLimiter::Slot moved = *std::move(first);
  first = absl::StatusOr<CallLimiter::Slot>();
  EXPECT_EQ(limiter.in_flight(), 2);
  moved = CallLimiter::Slot();
  EXPECT_EQ(limiter.in_flight(), 1);
  EXPECT_TRUE(limiter.Admit().ok());  // admitted, and given back at once
  EXPECT_EQ(limiter.in_flight(), 1);
  EXPECT_EQ(limiter.admitted(), 3);
}

TEST(CallLimiter, ZeroMeansNoLimit) {
  CallLimiter limiter(0);
  std::vector<CallLimiter::Slot> slots;
  for (int i = 0; i < 10000; ++i) {
    absl::StatusOr<CallLimiter::Slot> slot = limiter.Admit();
    ASSERT_TRUE(slot.ok());
    slots.push_back(*std::move(slot));
  }
  EXPECT_EQ(limiter.in_flight(), 10000);
  slots.clear();
  EXPECT_EQ(limiter.in_flight(), 0);
}

TEST(StreamPacer, LetsASecondsWorthThroughThenPacesToTheRate) {
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  struct Step {
    absl::Duration at;  // when the chunk is read, after t0
    int64_t contacts;
    absl::Duration wait;  // before the next read
  };
  // 1000 contacts a second: the first second's worth passes, then each 500 waits half a second.
  const std::vector<Step> steps = {
      {absl::ZeroDuration(), 500, absl::ZeroDuration()},
      {absl::ZeroDuration(), 500, absl::ZeroDuration()},
      {absl::ZeroDuration(), 500, absl::Milliseconds(500)},
      {absl::Milliseconds(500), 500, absl::Milliseconds(500)},
      // A pause of the sender's own refills the allowance, up to one second's worth.
      {absl::Seconds(10), 1000, absl::ZeroDuration()},
      {absl::Seconds(10), 2000, absl::Seconds(2)},
  };
  StreamPacer pacer(1000);
  for (const Step& step : steps) {
    SCOPED_TRACE(absl::FormatDuration(step.at));
    EXPECT_EQ(pacer.Admit(step.contacts, t0 + step.at), step.wait);
  }
}

TEST(StreamPacer, ZeroRateAndEmptyChunksNeverWait) {
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  StreamPacer unlimited(0);
  EXPECT_EQ(unlimited.Admit(1000000, t0), absl::ZeroDuration());
  StreamPacer paced(10);
  EXPECT_EQ(paced.Admit(0, t0), absl::ZeroDuration());
}

}  // namespace
}  // namespace lawful::server
