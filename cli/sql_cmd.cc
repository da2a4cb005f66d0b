#include "sql_cmd.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "eval.h"
#include "google/protobuf/util/json_util.h"
#include "input.h"
#include "lawful/dsl.h"
#include "lawful/sql.h"

namespace lawful::cli {

int RunEvalFromPostgres(const EvalOptions& options, const std::string& conninfo) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("lawful eval: pipe");
    return kEvalExitUsage;
  }
  // The reader may stop early (--strict): the writer then sees EPIPE instead of a signal.
  signal(SIGPIPE, SIG_IGN);
  absl::Status read_status;
  std::thread writer([&] {
    std::string line;
    bool open = true;
    read_status = sql::ReadContacts(conninfo, [&](const lawful::v1::Contact& c) {
      if (!open) return;
      line.clear();
      (void)google::protobuf::util::MessageToJsonString(c, &line);
      line += '\n';
      for (size_t done = 0; open && done < line.size();) {
        const ssize_t n = write(fds[1], line.data() + done, line.size() - done);
        if (n <= 0) open = false;
        done += n > 0 ? static_cast<size_t>(n) : 0;
      }
    });
    close(fds[1]);
  });
  EvalOptions jsonl = options;
  jsonl.input_format = "jsonl";
  const int code = RunEval(jsonl, absl::StrCat("/dev/fd/", fds[0]));
  close(fds[0]);
  writer.join();
  if (!read_status.ok()) {
    std::fprintf(stderr, "lawful eval: %s\n", std::string(read_status.message()).c_str());
    return code == kEvalExitOk ? kEvalExitUsage : code;
  }
  return code;
}

int RunSql(const SqlOptions& options) {
  if (options.schema) {
    std::fputs(sql::SchemaDdl().c_str(), stdout);
    return 0;
  }
  if (options.rules_dir.empty() || options.purpose.empty() || options.channel.empty()) {
    std::fputs("lawful sql: --rules, --purpose and --channel are required (or --schema)\n", stderr);
    return 2;
  }
  absl::StatusOr<lawful::v1::Channel> channel = ParseChannel(options.channel);
  absl::StatusOr<lawful::v1::NoticeType> notice_type = ParseNoticeType(options.notice_type);
  for (const absl::Status& s : {channel.status(), notice_type.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "lawful sql: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  // The same checked rules the engine runs: the rule set must load (compile and verify) first.
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(options.rules_dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  const dsl::CheckResult checked = dsl::CheckRuleSet(loaded->sources);
  if (!checked.ok()) {
    std::fputs(dsl::FormatDiagnostics(checked.diagnostics, loaded->sources).c_str(), stderr);
    return 2;
  }
  const sql::CompiledQuery query = sql::CompileQuery(
      *checked.rules, {options.purpose, *channel, *notice_type}, loaded->rule_set->version());
  if (!query.ok()) {
    for (const dsl::Diagnostic& d : query.diagnostics) {
      if (d.line == 0) {
        std::fprintf(stderr, "lawful sql: %s\n", d.message.c_str());
      } else {
        std::fputs(dsl::FormatDiagnostic(d, loaded->sources).c_str(), stderr);
      }
    }
    return 2;
  }
  std::fputs(query.text.c_str(), stdout);
  return 0;
}

}  // namespace lawful::cli
