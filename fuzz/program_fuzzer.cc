// Arbitrary bytes as a program: decoded into a lawful::Program (program_codec.h), verified, and,
// when the verifier accepts it, disassembled and run on the sample contacts and on the input's
// remaining bytes as a contact. The verifier's promise is that the VM runs whatever it accepts
// without reading or writing out of bounds and without looping for ever; this target holds it
// to that.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness.h"
#include "program_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  lawful::Program program = lawful::fuzz::DecodeProgram(bytes);
  // The rest of the input is a contact, capped: the verifier bounds loops by the contact's lists,
  // and nested loops over long lists are slow, not wrong.
  std::string_view contact = bytes.substr(0, 256);
  absl::StatusOr<std::shared_ptr<const lawful::RuleSet>> rule_set =
      lawful::RuleSet::Create(std::move(program), "fuzz");
  if (!rule_set.ok()) return 0;
  lawful::Disassemble((*rule_set)->program());
  lawful::fuzz::Exercise(**rule_set, {contact}, /*compiled=*/false);
  return 0;
}
