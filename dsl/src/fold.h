// Constant folding: the values of consts, set literals and duration sums, when rules compile.
#pragma once

#include <string>

#include "lawful/dsl.h"

namespace lawful::dsl {

// Folding uses the VM's own checked arithmetic (lawful/engine.h), so a constant means what the
// same expression would at run time, and one without a value is a located error, never a crash.
struct FoldResult {
  enum Kind {
    kOk,
    kNotConstant,  // the value depends on the contact or the request
    kInvalid,      // the arithmetic has no value (overflow, division by zero): see span, message
  };
  Kind kind = kOk;
  Span span;            // kInvalid: the operator whose result has no value
  std::string code;     // kInvalid: the diagnostic's code, "overflow" or "division-by-zero"
  std::string message;  // kInvalid: one sentence naming what overflowed
};

// Folds `e`, already type-checked, into `out`: its value, set or duration (a set's values sorted,
// without duplicates). Consts it names must have been folded already.
FoldResult Fold(const Expr& e, ConstValue& out);

}  // namespace lawful::dsl
