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

// What Explain records while the same dispatch loop runs: the loop calls these hooks only in
// its traced instantiation (the untraced one, above, compiles them away).
class Tracer {
 public:
  virtual ~Tracer() = default;
  // Before each instruction; may reset locals (Explain clears the memo flags at each rule so that
  // every rule reads, and shows, the facts behind its own definitions).
  virtual void Step(int32_t pc, int64_t* locals) = 0;
  virtual void Fact(int32_t slot, int64_t value) = 0;
  virtual void Field(int32_t list, int64_t index, int32_t field, int64_t value) = 0;
  virtual void Elements(int32_t list) = 0;  // a scalar list read as a whole (`x in list`, count)
  virtual void Register(int32_t reg, int64_t value) = 0;
};

Result RunTraced(const Program& program, const std::vector<absl::TimeZone>& zones, int32_t pc,
                 int64_t* registers, const Facts& facts, int64_t* stack, int64_t* locals,
                 Tracer& tracer);

}  // namespace lawful::vm
