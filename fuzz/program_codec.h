// A compact byte encoding of lawful::Program for the program fuzzer. Every byte string decodes to
// some Program (bytes that run out read as zeros, counts are capped so no input allocates much),
// and a program encoded by EncodeProgram decodes back to itself (source spans aside), so the
// corpus starts from compiled rule sets and libFuzzer mutates real bytecode, constants and fact
// layouts: the verifier's corners are a few byte flips away from a valid program.
#pragma once

#include <string>
#include <string_view>

#include "lawful/engine.h"

namespace lawful::fuzz {

// Reads a Program from the front of `bytes` and removes what it read; the rest is left for the
// caller (the program fuzzer decodes it as a contact).
Program DecodeProgram(std::string_view& bytes);

// The bytes DecodeProgram reads back as `program`. Spans are not kept (the decoder gives every
// instruction an empty span): they matter to the disassembler and diagnostics, not the VM.
std::string EncodeProgram(const Program& program);

}  // namespace lawful::fuzz
