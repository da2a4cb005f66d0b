// Constant folding: the values of `const`s, set literals and duration sums, computed when the
// rules are compiled with the VM's own checked arithmetic (lawful/engine.h), so a constant means
// what the same expression would at run time and a bad one is a located error, never a crash.
#pragma once

#include <string>

#include "ast.h"

namespace lawful::dsl {

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
