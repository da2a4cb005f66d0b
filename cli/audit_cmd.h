// `lawful audit verify|find|head`: check an audit log's chain, answer an access request from it,
// print its head for anchoring elsewhere.
#pragma once

#include <string>
#include <vector>

namespace lawful::cli {

struct AuditCommandOptions {
  std::string key_file;  // --audit_key_file
  std::string contact;   // --contact (find)
  // --record_id (find): the person's record ids (their consents' and objections' ids), which the
  // log holds only as pseudonyms: find names them and finds the decisions that relied on them.
  std::vector<std::string> record_ids;
  std::string anchor;  // --anchor=SEQ:MAC (verify)
};

// `args` is what follows `lawful audit`: the verb, then the log's paths (each also stands for
// the rotated files beside it). Exit 0 ok, 1 when the chain does not verify, 2 on bad usage, a
// bad key file or a file that cannot be read.
int RunAudit(const AuditCommandOptions& options, const std::vector<std::string>& args);

}  // namespace lawful::cli
