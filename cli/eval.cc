#include "eval.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "input.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/v1/service.grpc.pb.h"

namespace lawful::cli {
namespace {

using DecisionBatch = google::protobuf::RepeatedPtrField<lawful::v1::Decision>;

// A DecideBatch call of kEvalChunkSize contacts answers well within this.
constexpr auto kCallTimeout = std::chrono::seconds(60);
constexpr int kMaxMessageBytes = 64 << 20;

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  // ToUnixSeconds rounds towards the past, so the nanos are never negative.
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The outreach the flags describe. `at` stays unset when --at is not given.
absl::StatusOr<lawful::v1::Outreach> OutreachFromFlags(const EvalOptions& options) {
  lawful::v1::Outreach outreach;
  if (options.purpose.empty()) return absl::InvalidArgumentError("--purpose is required");
  outreach.set_purpose(options.purpose);
  absl::StatusOr<lawful::v1::Channel> channel = ParseChannel(options.channel);
  if (!channel.ok()) return channel.status();
  outreach.set_channel(*channel);
  absl::StatusOr<lawful::v1::NoticeType> notice_type = ParseNoticeType(options.notice_type);
  if (!notice_type.ok()) return notice_type.status();
  outreach.set_notice_type(*notice_type);
  if (!options.at.empty()) {
    absl::StatusOr<absl::Time> at = ParseAt(options.at);
    if (!at.ok()) return at.status();
    ToProto(*at, outreach.mutable_at());
  }
  return outreach;
}

// Decides a chunk of contacts: one decision per contact, in order.
class Decider {
 public:
  virtual ~Decider() = default;
  // May consume `contacts`.
  virtual absl::Status Decide(ContactBatch* contacts, DecisionBatch* decisions) = 0;
  // The rule-set version and instant of the decisions so far (empty/nullopt before any).
  virtual std::string version() const = 0;
  virtual std::optional<absl::Time> at() const = 0;
};

// Decides in this process, with the same engine calls lawfuld makes.
class EngineDecider final : public Decider {
 public:
  EngineDecider(dsl::LoadedRuleSet loaded, PreparedOutreach outreach)
      : loaded_(std::move(loaded)), outreach_(std::move(outreach)) {}

  absl::Status Decide(ContactBatch* contacts, DecisionBatch* decisions) override {
    decisions->Clear();
    decisions->Reserve(contacts->size());
    for (const lawful::v1::Contact& contact : *contacts) {
      const Decision decision = evaluator_.Decide(outreach_, contact);
      lawful::v1::Decision* out = decisions->Add();
      loaded_.rule_set->ToProto(decision, out);
      out->set_contact_id(contact.id());
    }
    return absl::OkStatus();
  }
  std::string version() const override { return loaded_.rule_set->version(); }
  std::optional<absl::Time> at() const override { return outreach_.at; }

 private:
  dsl::LoadedRuleSet loaded_;
  PreparedOutreach outreach_;
  Evaluator evaluator_;
};

// Decides with DecideBatch on a lawfuld.
class ServerDecider final : public Decider {
 public:
  ServerDecider(const std::string& address, lawful::v1::Outreach outreach)
      : outreach_(std::move(outreach)) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    args.SetMaxSendMessageSize(kMaxMessageBytes);
    stub_ = lawful::v1::Lawful::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }

  absl::Status Decide(ContactBatch* contacts, DecisionBatch* decisions) override {
    lawful::v1::DecideBatchRequest request;
    *request.mutable_outreach() = outreach_;
    request.set_rule_set_version(version_);
    const int sent = contacts->size();
    request.mutable_contacts()->Swap(contacts);
    lawful::v1::DecideBatchResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    const grpc::Status status = stub_->DecideBatch(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrFormat("DecideBatch: %s", status.error_message()));
    }
    if (response.decisions_size() != sent) {
      return absl::InternalError(absl::StrFormat(
          "DecideBatch answered %d decisions for %d contacts", response.decisions_size(), sent));
    }
    if (version_.empty()) {
      // Later chunks are pinned to the first chunk's rule set and instant, so one run never
      // mixes two rule sets: a reload in between fails the run with FAILED_PRECONDITION.
      version_ = response.rule_set_version();
      *outreach_.mutable_at() = response.at();
    }
    decisions->Swap(response.mutable_decisions());
    return absl::OkStatus();
  }
  std::string version() const override { return version_; }
  std::optional<absl::Time> at() const override {
    if (!outreach_.has_at()) return std::nullopt;
    return FromProto(outreach_.at());
  }

 private:
  lawful::v1::Outreach outreach_;
  std::string version_;
  std::unique_ptr<lawful::v1::Lawful::Stub> stub_;
};

}  // namespace

int RunEval(const EvalOptions& options, const std::string& input) {
  absl::StatusOr<lawful::v1::Outreach> outreach = OutreachFromFlags(options);
  if (!outreach.ok()) {
    std::fprintf(stderr, "lawful eval: %s\n", std::string(outreach.status().message()).c_str());
    return 1;
  }
  if (options.rules_dir.empty() == options.server.empty()) {
    std::fprintf(stderr, "lawful eval: give exactly one of --rules=DIR and --server=HOST:PORT\n");
    return 1;
  }

  std::unique_ptr<Decider> decider;
  if (!options.server.empty()) {
    decider = std::make_unique<ServerDecider>(options.server, *outreach);
  } else {
    absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(options.rules_dir);
    if (!loaded.ok()) {
      std::fprintf(stderr, "lawful eval: cannot load rules from %s:\n%s\n",
                   options.rules_dir.c_str(), std::string(loaded.status().message()).c_str());
      return 2;
    }
    const absl::Time at = outreach->has_at() ? FromProto(outreach->at()) : absl::Now();
    absl::StatusOr<PreparedOutreach> prepared = loaded->rule_set->Prepare(
        Outreach{outreach->purpose(), outreach->channel(), outreach->notice_type(), at});
    if (!prepared.ok()) {
      std::fprintf(stderr, "lawful eval: %s\n", std::string(prepared.status().message()).c_str());
      return 1;
    }
    decider = std::make_unique<EngineDecider>(*std::move(loaded), *std::move(prepared));
  }

  std::ifstream file;
  std::istream* in = &std::cin;
  if (input != "-") {
    file.open(input);
    if (!file) {
      std::fprintf(stderr, "lawful eval: cannot open %s: %s\n", input.c_str(),
                   std::strerror(errno));
      return 1;
    }
    in = &file;
  }
  ContactReader reader(in, input == "-" ? "<stdin>" : input, "lawful");

  google::protobuf::util::JsonPrintOptions print_options;
  print_options.add_whitespace = false;  // one decision per line
  ContactBatch contacts;
  DecisionBatch decisions;
  uint32_t next_index = 0;
  while (reader.Read(kEvalChunkSize, &contacts)) {
    if (const absl::Status status = decider->Decide(&contacts, &decisions); !status.ok()) {
      std::fflush(stdout);
      std::fprintf(stderr, "lawful eval: %s\n", status.ToString().c_str());
      return 1;
    }
    std::string json;
    for (lawful::v1::Decision& decision : decisions) {
      // Positions count across chunks: the contact's place in the whole input.
      decision.set_index(next_index++);
      json.clear();
      const auto status =
          google::protobuf::util::MessageToJsonString(decision, &json, print_options);
      if (!status.ok()) {
        std::fprintf(stderr, "lawful eval: cannot print a decision: %s\n",
                     std::string(status.message()).c_str());
        return 1;
      }
      json.push_back('\n');
      std::fwrite(json.data(), 1, json.size(), stdout);
    }
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "lawful eval: cannot write the decisions: %s\n", std::strerror(errno));
    return 1;
  }
  if (reader.failed()) {
    std::fprintf(stderr, "lawful eval: cannot read %s\n", input.c_str());
    return 1;
  }
  if (next_index > 0) {
    std::fprintf(stderr, "lawful eval: %u contacts decided with rule set %s at %s\n", next_index,
                 decider->version().c_str(),
                 FormatAt(decider->at().value_or(absl::InfinitePast())).c_str());
  }
  if (reader.malformed() > 0) {
    std::fprintf(stderr, "lawful eval: %d malformed lines in %s were not decided\n",
                 reader.malformed(), input.c_str());
    return 1;
  }
  return 0;
}

}  // namespace lawful::cli
