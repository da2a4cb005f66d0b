// `lawful explain`: why one contact gets its decision, rule by rule, in-process, from the rule-set
// archive (replaying a logged decision under the rules that made it), or via lawfuld's Explain.
#pragma once

#include <string>

namespace lawful::cli {

struct ExplainOptions {
  std::string purpose;
  std::string channel;
  std::string notice_type;
  std::string at;           // RFC 3339; empty means now (the server's clock with --server)
  std::string rules_dir;    // explain with these rules ...
  std::string server;       // ... or ask this lawfuld ...
  std::string rule_set;     // ... pinned to this version (with --archive_dir: from the archive)
  std::string archive_dir;  // a lawfuld --archive_dir
  bool json = false;        // print lawful.v1.Explanation JSON instead of text
};

// Explains every contact of `input` ("-" is stdin): one lawful.v1.Contact in proto JSON, or one
// per line. Exit 0 when every contact was explained, 1 on a malformed contact or a failed call,
// 2 on bad flags or rules that do not load.
int RunExplain(const ExplainOptions& options, const std::string& input);

}  // namespace lawful::cli
