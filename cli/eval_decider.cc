// The two deciders of `lawful eval`: in-process over lawful/decide.h, and lawfuld's DecideBatch.
#include "eval_decider.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eval.h"
#include "lawful/decide.h"
#include "lawful/v1/service.grpc.pb.h"

namespace lawful::cli {
namespace {

// A DecideBatch call of kEvalServerBatch contacts answers well within this.
constexpr auto kCallTimeout = std::chrono::seconds(60);
constexpr int kMaxMessageBytes = 64 << 20;

// Decides in this process through the deciding layer, as lawfuld's DecideBatch does, so that
// both modes print the same bytes.
class EngineDecider final : public Decider {
 public:
  EngineDecider(dsl::LoadedRuleSet loaded, PreparedOutreach outreach)
      : loaded_(std::move(loaded)), outreach_(std::move(outreach)) {}

  absl::Status Decide(Chunk& chunk, WorkerScratch& scratch) override {
    const size_t n = chunk.views.size();
    chunk.verdicts.resize(n);
    chunk.ids.resize(n);
    for (size_t i = 0; i < n; ++i) {
      chunk.verdicts[i] =
          decide::DecideContact(scratch.evaluator, outreach_, chunk.views[i], &chunk.ids[i]);
    }
    return absl::OkStatus();
  }

  Verdict Line(Chunk& chunk, size_t i, WorkerScratch& scratch, std::string* out) override {
    if (scratch.lines == nullptr) {
      scratch.lines = std::make_unique<DecisionLineWriter>(*loaded_.rule_set, scratch.csv);
    }
    const Decision& decision = chunk.verdicts[i];
    scratch.lines->Append(decision, chunk.views[i], chunk.ids[i],
                          static_cast<uint32_t>(chunk.contacts[i].index), out);
    return {static_cast<int>(decision.outcome),
            decision.outcome == Outcome::kError || decision.rule == nullptr
                ? std::string_view()
                : std::string_view(decision.rule->reason)};
  }

  void Messages(Chunk& chunk, DecisionBatch* out) override {
    for (size_t i = 0; i < chunk.views.size(); ++i) {
      decide::ToMessage(*loaded_.rule_set, chunk.verdicts[i], chunk.views[i], chunk.ids[i],
                        static_cast<uint32_t>(chunk.contacts[i].index), out->Add());
    }
  }

  const std::string& version() const override { return loaded_.rule_set->version(); }
  absl::Time at() const override { return outreach_.at; }

 private:
  const dsl::LoadedRuleSet loaded_;
  const PreparedOutreach outreach_;
};

// Decides with DecideBatch calls on a lawfuld, every call pinned to one rule set and instant.
class ServerDecider final : public Decider {
 public:
  // Connects and asks for the rule-set version (and, without --at, the server's clock) with an
  // empty batch, which also checks the outreach: every later call is pinned to them, so one run
  // never mixes two rule sets (a reload in between fails the run with FAILED_PRECONDITION).
  static absl::StatusOr<std::unique_ptr<ServerDecider>> Connect(const std::string& address,
                                                                lawful::v1::Outreach outreach) {
    auto decider = std::unique_ptr<ServerDecider>(new ServerDecider(address, std::move(outreach)));
    lawful::v1::DecideBatchResponse response;
    if (absl::Status status = decider->Call({}, &response); !status.ok()) return status;
    decider->version_ = response.rule_set_version();
    *decider->outreach_.mutable_at() = response.at();
    return decider;
  }

  absl::Status Decide(Chunk& chunk, WorkerScratch& /*scratch*/) override {
    const std::vector<std::string_view>& contacts = chunk.views;
    lawful::v1::DecideBatchResponse response;
    for (size_t begin = 0; begin < contacts.size(); begin += kEvalServerBatch) {
      const size_t end = std::min(contacts.size(), begin + kEvalServerBatch);
      const std::vector<std::string_view> slice(contacts.begin() + begin, contacts.begin() + end);
      if (absl::Status status = Call(slice, &response); !status.ok()) return status;
      if (static_cast<size_t>(response.decisions_size()) != slice.size()) {
        return absl::InternalError(
            absl::StrFormat("DecideBatch answered %d decisions for %d contacts",
                            response.decisions_size(), slice.size()));
      }
      for (lawful::v1::Decision& decision : *response.mutable_decisions()) {
        *chunk.decisions->Add() = std::move(decision);
      }
    }
    return absl::OkStatus();
  }

  Verdict Line(Chunk& chunk, size_t i, WorkerScratch& scratch, std::string* out) override {
    lawful::v1::Decision& decision = *chunk.decisions->Mutable(static_cast<int>(i));
    // The server numbers each call from 0; the line carries the position in the whole input.
    decision.set_index(static_cast<uint32_t>(chunk.contacts[i].index));
    if (scratch.csv) {
      AppendDecisionCsv(decision, out);
    } else {
      scratch.printer.Print(decision, out);
      out->push_back('\n');
    }
    return {decision.outcome(), decision.reason()};
  }

  void Messages(Chunk& chunk, DecisionBatch* out) override {
    for (int i = 0; i < chunk.decisions->size(); ++i) {
      lawful::v1::Decision* message = out->Add();
      *message = chunk.decisions->Get(i);
      message->set_index(static_cast<uint32_t>(chunk.contacts[static_cast<size_t>(i)].index));
    }
  }

  const std::string& version() const override { return version_; }
  absl::Time at() const override { return FromProto(outreach_.at()); }

 private:
  ServerDecider(const std::string& address, lawful::v1::Outreach outreach)
      : outreach_(std::move(outreach)) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    args.SetMaxSendMessageSize(kMaxMessageBytes);
    stub_ = lawful::v1::Lawful::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }

  absl::Status Call(const std::vector<std::string_view>& contacts,
                    lawful::v1::DecideBatchResponse* response) {
    lawful::v1::DecideBatchRequest request;
    *request.mutable_outreach() = outreach_;
    request.set_rule_set_version(version_);
    for (const std::string_view bytes : contacts) {
      if (!request.add_contacts()->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return absl::InternalError("the transcoder wrote a malformed contact");
      }
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    response->Clear();
    const grpc::Status status = stub_->DecideBatch(&context, request, response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("DecideBatch: ", status.error_message()));
    }
    return absl::OkStatus();
  }

  lawful::v1::Outreach outreach_;  // `at` pinned once connected
  std::string version_;
  std::unique_ptr<lawful::v1::Lawful::Stub> stub_;
};

}  // namespace

void CountReason(int outcome, std::string_view reason, uint64_t n,
                 std::vector<ReasonCount>* counts) {
  for (ReasonCount& c : *counts) {
    if (c.outcome == outcome && c.reason == reason) {
      c.count += n;
      return;
    }
  }
  counts->push_back({outcome, std::string(reason), n});
}

std::unique_ptr<Decider> MakeEngineDecider(dsl::LoadedRuleSet loaded, PreparedOutreach outreach) {
  return std::make_unique<EngineDecider>(std::move(loaded), std::move(outreach));
}

absl::StatusOr<std::unique_ptr<Decider>> ConnectServerDecider(const std::string& address,
                                                              lawful::v1::Outreach outreach) {
  absl::StatusOr<std::unique_ptr<ServerDecider>> connected =
      ServerDecider::Connect(address, std::move(outreach));
  if (!connected.ok()) return connected.status();
  return std::unique_ptr<Decider>(*std::move(connected));
}

}  // namespace lawful::cli
