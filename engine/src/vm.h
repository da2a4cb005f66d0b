// The interpreter loop, shared by the per-request prelude and per-contact policy evaluation.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "facts.h"
#include "lawful/engine.h"

namespace lawful::vm {

struct Result {
  int32_t rule = -1;  // the deciding rule; -1 when the code halted (prelude)
  int64_t evidence = -1;
  int64_t valid_until = kMissing;
};

// Runs verified code from `pc`. `stack` holds at least program.max_stack values, `locals`
// program.num_locals. `facts` may be empty for the prelude (which never reads them).
Result Run(const Program& program, const std::vector<absl::TimeZone>& zones, int32_t pc,
           int64_t* registers, const Facts& facts, int64_t* stack, int64_t* locals);

}  // namespace lawful::vm
