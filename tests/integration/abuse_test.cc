// Abuse: a real lawfuld on loopback is sent what no well-behaved client sends — garbage on its
// port, truncated and oversized messages, a stream that never reads, hundreds of calls cancelled
// mid-flight, thousands of concurrent calls — and must keep answering health checks and the same
// decisions as before, and give back the memory the abuse took: its RSS settles within
// 1.2 x + 20 MB of its steady state after a warm-up of the same kinds of legitimate calls.
//
// Every loop is bounded in count and time; the whole file runs in well under two minutes on two
// cores, under ASan too. The server-side limits (call_limits.h) are tested here as well.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"
#include "lawful/v1/service.grpc.pb.h"
#include "lawfuld.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::At;
using ::lawful::testkit::TempDir;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace fs = std::filesystem;

constexpr absl::Duration kCallTimeout = absl::Seconds(20);
// Small enough that an oversized message is cheap to send, large enough for every legitimate
// call below (the largest is a 1000-contact batch of a few hundred kB).
constexpr int kMaxMessageBytes = 4 << 20;
// The instant every call decides at, so that answers before and after the abuse compare.
constexpr char kAt[] = "2026-11-30T09:00:00Z";

v1::Outreach NewsletterByEmail() {
  v1::Outreach outreach;
  outreach.set_purpose("newsletter");
  outreach.set_channel(v1::CHANNEL_EMAIL);
  outreach.mutable_at()->set_seconds(absl::ToUnixSeconds(At(kAt)));
  return outreach;
}

std::chrono::system_clock::time_point Deadline(absl::Duration timeout = kCallTimeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

// The probe: the example contacts and synthetic ones (ids `c-<seed>-<n>`, e-mail addresses at
// example.com: the markers log_grep_test.cc looks for), decided before and after every abuse.
std::vector<v1::Contact> ProbeContacts() {
  std::vector<v1::Contact> contacts;
  std::ifstream in(fs::path(LAWFUL_SOURCE_DIR) / "examples" / "contacts.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    v1::Contact contact;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &contact).ok()) << line;
    contacts.push_back(contact);
  }
  EXPECT_FALSE(contacts.empty());
  for (v1::Contact& contact : synth::Generate(/*seed=*/9, 200, At(kAt))) {
    contacts.push_back(std::move(contact));
  }
  return contacts;
}

v1::DecideBatchRequest Batch(const std::vector<v1::Contact>& contacts) {
  v1::DecideBatchRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  for (const v1::Contact& contact : contacts) *request.add_contacts() = contact;
  return request;
}

v1::DecideStreamRequest StreamStart() {
  v1::DecideStreamRequest request;
  *request.mutable_start()->mutable_outreach() = NewsletterByEmail();
  return request;
}

v1::DecideStreamRequest Chunk(const std::vector<v1::Contact>& contacts, size_t begin, size_t n) {
  v1::DecideStreamRequest request;
  request.mutable_contacts();
  for (size_t i = begin; i < std::min(contacts.size(), begin + n); ++i) {
    *request.mutable_contacts()->add_contacts() = contacts[i];
  }
  return request;
}

using Stream = grpc::ClientReaderWriter<v1::DecideStreamRequest, v1::DecideStreamResponse>;

// The server's resident set in kB, from /proc; 0 when it cannot be read.
int64_t RssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    rest = absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB");
    int64_t kb = 0;
    return absl::SimpleAtoi(rest, &kb) ? kb : 0;
  }
  return 0;
}

// Samples the server's RSS every 50 ms while it lives; `peak()` is the largest seen.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid)
      : thread_([this, pid] {
          while (!stop_.load()) {
            peak_kb_ = std::max(peak_kb_.load(), RssKb(pid));
            absl::SleepFor(absl::Milliseconds(50));
          }
        }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  int64_t peak_kb() const { return peak_kb_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_kb_{0};
  std::thread thread_;
};

// --- Raw TCP ------------------------------------------------------------------------------------

class Socket {
 public:
  explicit Socket(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connected() const { return fd_ >= 0; }

  // False when the server closed the connection before everything was sent (a fine answer to
  // garbage).
  bool Send(const std::string& bytes) {
    for (size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  void HalfClose() { shutdown(fd_, SHUT_WR); }

  // Appends what arrives to `received` until the server closes the connection (true) or
  // `timeout` passes (false).
  bool ReadUntilClosed(absl::Duration timeout, std::string* received = nullptr) {
    const absl::Time deadline = absl::Now() + timeout;
    char buffer[16384];
    while (absl::Now() < deadline) {
      pollfd pfd{fd_, POLLIN, 0};
      const int ready =
          poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now())) + 1);
      if (ready <= 0) continue;
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return true;  // EOF or reset: closed
      if (received != nullptr) received->append(buffer, static_cast<size_t>(n));
    }
    return false;
  }

 private:
  int fd_;
};

constexpr char kHttp2Preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string Http2Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload,
                       uint32_t claimed_length = 0) {
  const uint32_t length = claimed_length != 0 ? claimed_length : payload.size();
  std::string frame = {static_cast<char>(length >> 16), static_cast<char>(length >> 8),
                       static_cast<char>(length),       static_cast<char>(type),
                       static_cast<char>(flags),        static_cast<char>((stream >> 24) & 0x7f),
                       static_cast<char>(stream >> 16), static_cast<char>(stream >> 8),
                       static_cast<char>(stream)};
  return frame + payload;
}

// A HEADERS block of literal fields without indexing (no Huffman coding), as RFC 7541 6.2.2
// spells them: enough to open a gRPC call without an HPACK library.
std::string GrpcRequestHeaders(const std::string& path) {
  std::string block;
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{":method", "POST"},
                                                        {":scheme", "http"},
                                                        {":path", path},
                                                        {":authority", "localhost"},
                                                        {"content-type", "application/grpc"},
                                                        {"te", "trailers"}}) {
    block += '\0';
    block += static_cast<char>(name.size());
    block += name;
    block += static_cast<char>(value.size());
    block += value;
  }
  return block;
}

// A gRPC message's 5-byte prefix: not compressed, `length` bytes follow.
std::string GrpcPrefix(uint32_t length) {
  return {'\0', static_cast<char>(length >> 24), static_cast<char>(length >> 16),
          static_cast<char>(length >> 8), static_cast<char>(length)};
}

// The frames of `bytes` on `stream`, as (type, flags) pairs, ignoring a trailing partial frame.
std::vector<std::pair<int, int>> FramesOn(const std::string& bytes, uint32_t stream) {
  std::vector<std::pair<int, int>> frames;
  for (size_t at = 0; at + 9 <= bytes.size();) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(bytes[at + i]); };
    const uint32_t length = (byte(0) << 16) | (byte(1) << 8) | byte(2);
    const uint32_t id = ((byte(5) & 0x7f) << 24) | (byte(6) << 16) | (byte(7) << 8) | byte(8);
    if (id == stream) frames.emplace_back(byte(3), byte(4));
    at += 9 + length;
  }
  return frames;
}

// --- The fixture --------------------------------------------------------------------------------

class AbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    log_path_ = dir_.path() / "lawfuld.log";
    probe_ = ProbeContacts();
#if defined(__SANITIZE_ADDRESS__)
    // ASan keeps freed memory in a quarantine (256 MB by default) to catch use-after-free; the
    // RSS this test bounds would then measure the quarantine. A smaller one still catches a
    // recent use-after-free.
    const char* options = std::getenv("ASAN_OPTIONS");
    setenv("ASAN_OPTIONS",
           absl::StrCat(options == nullptr ? "" : options, ":quarantine_size_mb=16").c_str(), 1);
#endif
  }

  // Starts lawfuld on the shipped rules, takes the reference answers, warms up with legitimate
  // calls — twice: a little of every kind and `twin`, the legitimate twin of the abuse to come
  // (the same calls done right: what the allocator keeps after it is steady state, not a leak) —
  // and records the steady-state RSS.
  void StartServer(const std::vector<std::string>& extra_flags = {},
                   const std::function<void()>& twin = nullptr) {
    std::vector<std::string> flags = {"--watch_interval=0", "--worker_threads=1",
                                      absl::StrCat("--max_message_bytes=", kMaxMessageBytes)};
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    server_ = std::make_unique<Lawfuld>(fs::path(LAWFUL_SOURCE_DIR) / "rules", log_path_, flags);
    ASSERT_THAT(server_->error(), IsEmpty());
    health_ = grpc::health::v1::Health::NewStub(server_->channel());
    ASSERT_TRUE(DecideProbe(&reference_).ok());
    ASSERT_EQ(reference_.decisions_size(), static_cast<int>(probe_.size()));
    for (int round = 0; round < 2; ++round) {
      ASSERT_NO_FATAL_FAILURE(LegitimateLoad());
      if (twin != nullptr) {
        ASSERT_NO_FATAL_FAILURE(twin());
      }
    }
    absl::SleepFor(absl::Milliseconds(500));
    steady_kb_ = RssKb(server_->process().pid());
    ASSERT_GT(steady_kb_, 0);
  }

  // A little of every kind of call: concurrent Decides, batches, streams that read their answers,
  // health checks.
  void LegitimateLoad() {
    ASSERT_NO_FATAL_FAILURE(ConcurrentDecides(200));
    const std::vector<v1::Contact> many = synth::Generate(/*seed=*/10, 1000, At(kAt));
    for (int i = 0; i < 3; ++i) {
      v1::DecideBatchResponse response;
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      ASSERT_TRUE(server_->stub().DecideBatch(&context, Batch(many), &response).ok());
    }
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      std::unique_ptr<Stream> stream = server_->stub().DecideStream(&context);
      ASSERT_TRUE(stream->Write(StreamStart()));
      v1::DecideStreamResponse response;
      for (size_t begin = 0; begin < many.size(); begin += 250) {
        ASSERT_TRUE(stream->Write(Chunk(many, begin, 250)));
        ASSERT_TRUE(stream->Read(&response));
      }
      stream->WritesDone();
      ASSERT_TRUE(stream->Read(&response));
      ASSERT_TRUE(stream->Finish().ok());
    }
    for (int i = 0; i < 20; ++i) ExpectServing();
  }

  void ConcurrentDecides(int n) {
    std::vector<v1::DecideRequest> requests;
    for (int i = 0; i < n; ++i) requests.push_back(DecideRequestFor(static_cast<size_t>(i)));
    for (const grpc::Status& status : DecideConcurrently(requests, 8, nullptr)) {
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  // `n` streams at once, each sending `chunks` times `chunk` and reading every answer.
  void ConcurrentStreams(int n, int chunks, const v1::DecideStreamRequest& chunk) {
    std::vector<std::thread> clients;
    std::atomic<int> failed{0};
    for (int i = 0; i < n; ++i) {
      clients.emplace_back([&] {
        grpc::ClientContext context;
        context.set_deadline(Deadline(absl::Seconds(60)));
        std::unique_ptr<Stream> stream = server_->stub().DecideStream(&context);
        v1::DecideStreamResponse response;
        bool ok = stream->Write(StreamStart());
        for (int c = 0; ok && c < chunks; ++c) ok = stream->Write(chunk) && stream->Read(&response);
        stream->WritesDone();
        while (stream->Read(&response)) {
        }
        failed += !ok || !stream->Finish().ok();
      });
    }
    for (std::thread& client : clients) client.join();
    ASSERT_EQ(failed.load(), 0);
  }

  v1::DecideRequest DecideRequestFor(size_t i) const {
    v1::DecideRequest request;
    *request.mutable_outreach() = NewsletterByEmail();
    *request.mutable_contact() = probe_[i % probe_.size()];
    return request;
  }

  // Sends `requests` as concurrent Decide calls spread over `channels` connections of their own
  // (callback API: every call is in flight at once) and waits for all of them.
  std::vector<grpc::Status> DecideConcurrently(const std::vector<v1::DecideRequest>& requests,
                                               int channels,
                                               std::vector<v1::DecideResponse>* responses) {
    std::vector<std::unique_ptr<v1::Lawful::Stub>> stubs;
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments arguments;
      arguments.SetInt("lawful.test.connection", i);  // distinct arguments: a connection each
      stubs.push_back(v1::Lawful::NewStub(grpc::CreateCustomChannel(
          server_->address(), grpc::InsecureChannelCredentials(), arguments)));
    }
    std::vector<grpc::Status> statuses(requests.size());
    std::vector<v1::DecideResponse> answers(requests.size());
    std::vector<grpc::ClientContext> contexts(requests.size());
    absl::BlockingCounter done(static_cast<int>(requests.size()));
    for (size_t i = 0; i < requests.size(); ++i) {
      contexts[i].set_deadline(Deadline(absl::Seconds(60)));
      stubs[i % stubs.size()]->async()->Decide(&contexts[i], &requests[i], &answers[i],
                                               [&statuses, &done, i](grpc::Status status) {
                                                 statuses[i] = std::move(status);
                                                 done.DecrementCount();
                                               });
    }
    done.Wait();
    if (responses != nullptr) *responses = std::move(answers);
    return statuses;
  }

  grpc::Status DecideProbe(v1::DecideBatchResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    return server_->stub().DecideBatch(&context, Batch(probe_), response);
  }

  // Health says SERVING for the server and for lawful.v1.Lawful.
  void ExpectServing() {
    for (const std::string service : {"", "lawful.v1.Lawful"}) {
      grpc::ClientContext context;
      context.set_deadline(Deadline(absl::Seconds(5)));
      grpc::health::v1::HealthCheckRequest request;
      request.set_service(service);
      grpc::health::v1::HealthCheckResponse response;
      const grpc::Status status = health_->Check(&context, request, &response);
      ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
      EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
    }
  }

  // Health, and the probe decided exactly as before the abuse, by batch and one by one.
  void ExpectServingTheSameDecisions() {
    ExpectServing();
    v1::DecideBatchResponse now;
    const grpc::Status status = DecideProbe(&now);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(now, reference_))
        << "the probe's decisions changed";
    for (size_t i = 0; i < probe_.size(); i += 17) {
      v1::DecideResponse one;
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      ASSERT_TRUE(server_->stub().Decide(&context, DecideRequestFor(i), &one).ok());
      v1::Decision expected = reference_.decisions(static_cast<int>(i));
      expected.set_index(0);
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(one.decision(), expected))
          << "contact " << i;
    }
  }

  // Polls until the server's RSS is back within 1.2 x + 20 MB of its steady state (15 s at most).
  void ExpectRssSettles(const std::string& abuse, int64_t peak_kb) {
    const int64_t bound_kb = steady_kb_ * 6 / 5 + 20 * 1024;
    const pid_t pid = server_->process().pid();
    int64_t now_kb = RssKb(pid);
    for (const absl::Time deadline = absl::Now() + absl::Seconds(15);
         now_kb > bound_kb && absl::Now() < deadline;) {
      absl::SleepFor(absl::Milliseconds(250));
      now_kb = RssKb(pid);
    }
    const std::string figures = absl::StrCat(
        abuse, ": RSS steady ", steady_kb_ / 1024, " MB, peak ", std::max(peak_kb, now_kb) / 1024,
        " MB, settled ", now_kb / 1024, " MB (bound ", bound_kb / 1024, " MB)");
    std::printf("%s\n", figures.c_str());
    RecordProperty("rss", figures);
#if defined(__SANITIZE_ADDRESS__)
    // Under ASan the bound is reported, not enforced: its allocator keeps freed chunks in the
    // quarantine and in per-size caches instead of returning them, so how far RSS settles depends
    // on the allocation pattern (a CI run held 222 MB against a 190 MB bound after streams that
    // never read, with no leak: LeakSanitizer is on). The default build enforces it.
    if (now_kb > bound_kb)
      std::printf("%s: above the bound under ASan (not enforced)\n", abuse.c_str());
#else
    EXPECT_LE(now_kb, bound_kb) << figures;
#endif
  }

  TempDir dir_;
  fs::path log_path_;
  std::vector<v1::Contact> probe_;
  std::unique_ptr<Lawfuld> server_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  v1::DecideBatchResponse reference_;
  int64_t steady_kb_ = 0;
};

// --- Garbage on the port ------------------------------------------------------------------------

TEST_F(AbuseTest, GarbageOnThePortIsDroppedAndTheServerServesOn) {
  // The twin: as many connections, each with a real call.
  ASSERT_NO_FATAL_FAILURE(StartServer({}, [this] {
    for (int i = 0; i < 40; ++i) {
      grpc::ChannelArguments arguments;
      arguments.SetInt("lawful.test.connection", i);
      auto stub = v1::Lawful::NewStub(grpc::CreateCustomChannel(
          server_->address(), grpc::InsecureChannelCredentials(), arguments));
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      v1::DecideResponse response;
      ASSERT_TRUE(stub->Decide(&context, DecideRequestFor(i), &response).ok());
    }
  }));
  std::mt19937 random(7);
  std::string noise(64 << 10, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  const std::string preface = kHttp2Preface;
  const std::string settings = Http2Frame(0x4, 0, 0, "");
  struct Garbage {
    std::string name;
    std::string bytes;
  };
  const std::vector<Garbage> garbage = {
      {"random bytes", noise},
      {"an HTTP/1.1 request",
       "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"},
      {"an HTTP/1.1 gRPC-looking POST",
       "POST /lawful.v1.Lawful/Decide HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
       "application/grpc\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0"},
      {"a truncated HTTP/2 preface", preface.substr(0, 17)},
      {"the preface, then random bytes", preface + noise.substr(0, 4096)},
      {"a frame claiming 16 MB", preface + settings + Http2Frame(0x0, 0, 1, "abc", 0xffffff)},
      {"HEADERS with a broken HPACK block",
       preface + settings + Http2Frame(0x1, 0x4, 1, std::string("\xff\xff\xff\xff\x7f", 5))},
      {"a frame on stream 0 of an unknown type, then silence",
       preface + settings + Http2Frame(0xfa, 0, 0, noise.substr(0, 100))},
  };
  RssSampler sampler(server_->process().pid());
  // Connections that send nothing at all, held open while the rest goes on.
  std::vector<std::unique_ptr<Socket>> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(std::make_unique<Socket>(server_->port()));
  for (int round = 0; round < 5; ++round) {
    for (const Garbage& g : garbage) {
      SCOPED_TRACE(g.name);
      Socket socket(server_->port());
      ASSERT_TRUE(socket.connected());
      socket.Send(g.bytes);
      socket.HalfClose();
      EXPECT_TRUE(socket.ReadUntilClosed(absl::Seconds(10))) << "the server kept the connection";
    }
    ExpectServing();
  }
  for (const auto& socket : idle) EXPECT_TRUE(socket->connected());
  ExpectServingTheSameDecisions();
  idle.clear();
  ExpectRssSettles("garbage on the port", sampler.peak_kb());
}

// A gRPC message whose length prefix promises more bytes than the stream carries: the server
// ends that stream (trailers or RST_STREAM) and serves on.
TEST_F(AbuseTest, TruncatedMessageOnTheWireEndsItsStream) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  for (const std::string method :
       {"Decide", "DecideBatch", "DecideStream", "GetRuleSet", "Explain"}) {
    for (const uint32_t claimed : {1000u, 64u << 20}) {
      SCOPED_TRACE(absl::StrCat(method, ", ", claimed, " bytes claimed"));
      Socket socket(server_->port());
      ASSERT_TRUE(socket.connected());
      socket.Send(
          absl::StrCat(kHttp2Preface, Http2Frame(0x4, 0, 0, ""),
                       Http2Frame(0x1, 0x4, 1, GrpcRequestHeaders("/lawful.v1.Lawful/" + method)),
                       Http2Frame(0x0, 0x1, 1, GrpcPrefix(claimed) + "0123456789")));
      // Answer the server's SETTINGS as a client must, then wait for the end of stream 1.
      std::string received;
      bool ended = false;
      size_t acknowledged = 0;
      for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
           !ended && absl::Now() < deadline;) {
        const bool closed = socket.ReadUntilClosed(absl::Milliseconds(100), &received);
        size_t settings = 0;
        for (const auto& [type, flags] : FramesOn(received, 0)) {
          settings += type == 0x4 && (flags & 0x1) == 0;
          ended = ended || type == 0x7;  // GOAWAY
        }
        for (; acknowledged < settings; ++acknowledged) socket.Send(Http2Frame(0x4, 0x1, 0, ""));
        for (const auto& [type, flags] : FramesOn(received, 1)) {
          // RST_STREAM, or HEADERS ending the stream (the trailers).
          ended = ended || type == 0x3 || (type == 0x1 && (flags & 0x1) != 0);
        }
        if (closed) break;
      }
      EXPECT_TRUE(ended) << "no trailers, RST_STREAM or GOAWAY for the truncated call";
    }
  }
  ExpectServingTheSameDecisions();
}

// Well-framed messages whose bytes are not the request they claim to be: INVALID_ARGUMENT, never
// a decision, and the server serves on.
TEST_F(AbuseTest, MalformedRequestBytesAreInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  grpc::GenericStub generic(server_->channel());
  auto call = [&](const std::string& method, const std::string& bytes) {
    grpc::Slice slice(bytes);
    const grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    generic.UnaryCall(&context, "/lawful.v1.Lawful/" + method, grpc::StubOptions(), &request,
                      &response,
                      [&done](grpc::Status status) { done.set_value(std::move(status)); });
    return done.get_future().get();
  };
  v1::DecideRequest decide = DecideRequestFor(0);
  const std::string decide_bytes = decide.SerializeAsString();
  const std::string batch_bytes = Batch(probe_).SerializeAsString();
  struct Case {
    std::string name;
    std::string method;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"Decide cut in half", "Decide", decide_bytes.substr(0, decide_bytes.size() / 2)},
      {"Decide, a tag of wire type 7", "Decide", std::string("\xff\xff\x07", 3)},
      {"DecideBatch cut in half", "DecideBatch", batch_bytes.substr(0, batch_bytes.size() / 2)},
      {"DecideBatch cut one byte short", "DecideBatch",
       batch_bytes.substr(0, batch_bytes.size() - 1)},
      {"DecideBatch, a tag of wire type 7", "DecideBatch", std::string("\xff\xff\x07", 3)},
      {"Explain cut in half", "Explain", decide_bytes.substr(0, decide_bytes.size() / 2)},
      {"Explain, a tag of wire type 7", "Explain", std::string("\xff\xff\x07", 3)},
      {"GetRuleSet, a tag of wire type 7", "GetRuleSet", std::string("\xff\xff\x07", 3)},
  };
  for (int round = 0; round < 10; ++round) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      const grpc::Status status = call(c.method, c.bytes);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    }
  }

  // A contact inside a chunk that cannot be read (an id that is not UTF-8, which proto3 refuses)
  // is that contact's own ERROR: the stream goes on, and ends with its summary.
  v1::DecideStreamRequest bad = Chunk(probe_, 0, 3);
  bad.mutable_contacts()->mutable_contacts(1)->set_id(std::string("\xff\xfe", 2));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  std::unique_ptr<Stream> stream = server_->stub().DecideStream(&context);
  ASSERT_TRUE(stream->Write(StreamStart()));
  ASSERT_TRUE(stream->Write(Chunk(probe_, 0, 3)));
  v1::DecideStreamResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.decisions().decisions_size(), 3);
  const v1::Decision& unreadable = response.decisions().decisions(1);
  EXPECT_EQ(unreadable.outcome(), v1::OUTCOME_ERROR);
  EXPECT_EQ(unreadable.error().field_path(), "id");
  EXPECT_EQ(unreadable.contact_id(), "");  // never echoed: the answer must stay valid UTF-8
  EXPECT_NE(response.decisions().decisions(0).outcome(), v1::OUTCOME_ERROR);
  stream->WritesDone();
  bool summary = false;
  while (stream->Read(&response)) summary = summary || response.has_summary();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(summary);
  ExpectServingTheSameDecisions();
}

// Messages over --max_message_bytes are refused before they are decided.
TEST_F(AbuseTest, OversizedMessagesAreResourceExhausted) {
  // The twin: messages just under the limit.
  ASSERT_NO_FATAL_FAILURE(StartServer({}, [this] {
    v1::Contact large = probe_[0];
    large.set_id(std::string(kMaxMessageBytes / 2, 'x'));
    for (int i = 0; i < 5; ++i) {
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      v1::DecideBatchResponse response;
      ASSERT_TRUE(server_->stub().DecideBatch(&context, Batch({large}), &response).ok());
    }
  }));
  RssSampler sampler(server_->process().pid());
  v1::Contact huge = probe_[0];
  huge.set_id(std::string(kMaxMessageBytes + 1000, 'x'));
  for (int round = 0; round < 5; ++round) {
    v1::DecideRequest decide = DecideRequestFor(0);
    *decide.mutable_contact() = huge;
    v1::DecideResponse decided;
    grpc::ClientContext decide_context;
    decide_context.set_deadline(Deadline());
    grpc::Status status = server_->stub().Decide(&decide_context, decide, &decided);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();

    v1::DecideBatchResponse batched;
    grpc::ClientContext batch_context;
    batch_context.set_deadline(Deadline());
    status = server_->stub().DecideBatch(&batch_context, Batch({probe_[1], huge}), &batched);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();

    grpc::ClientContext stream_context;
    stream_context.set_deadline(Deadline());
    std::unique_ptr<Stream> stream = server_->stub().DecideStream(&stream_context);
    stream->Write(StreamStart());
    stream->Write(Chunk({huge}, 0, 1));
    v1::DecideStreamResponse response;
    while (stream->Read(&response)) {
    }
    status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  ExpectServingTheSameDecisions();
  ExpectRssSettles("oversized messages", sampler.peak_kb());
}

// Streams that send and never read are held back by flow control: the server's memory stays
// bounded while they hang, and it serves everybody else meanwhile.
TEST_F(AbuseTest, StreamsThatNeverReadAreHeldBackWhileOthersAreServed) {
  // Contacts with 4 kB ids make large answers, so the transport's buffers fill quickly.
  std::vector<v1::Contact> wide(probe_.begin(), probe_.begin() + 100);
  for (v1::Contact& contact : wide) contact.set_id(std::string(4000, 'x'));
  const v1::DecideStreamRequest chunk = Chunk(wide, 0, wide.size());
  constexpr int kStreams = 4;
  // The twin: as many streams of the same chunks, reading their answers.
  ASSERT_NO_FATAL_FAILURE(
      StartServer({}, [this, &chunk] { ConcurrentStreams(kStreams, 20, chunk); }));
  RssSampler sampler(server_->process().pid());
  constexpr int kChunksEach = 400;  // 160 MB of answers each, were they all buffered
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<std::thread> writers;
  std::atomic<int> written{0};
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(Deadline(absl::Seconds(60)));
    streams.push_back(server_->stub().DecideStream(contexts.back().get()));
    Stream* stream = streams.back().get();
    writers.emplace_back([stream, &chunk, &written] {
      if (!stream->Write(StreamStart())) return;
      for (int c = 0; c < kChunksEach && stream->Write(chunk); ++c) ++written;
    });
  }
  // Held back: the writers stop making progress (for a second) long before they are done. How
  // much flow control lets through first depends on the windows gRPC grows, so it is not fixed.
  int held_at = -1;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       held_at != written.load() && absl::Now() < deadline;) {
    held_at = written.load();
    absl::SleepFor(absl::Seconds(1));
  }
  EXPECT_EQ(written.load(), held_at) << "the writers were not held back";
  EXPECT_LT(held_at, kStreams * kChunksEach / 2);
  // Everybody else is served while the writers hang.
  ExpectServingTheSameDecisions();
  const int64_t while_held_kb = RssKb(server_->process().pid());
  for (const auto& context : contexts) context->TryCancel();
  for (std::thread& writer : writers) writer.join();
  for (const auto& stream : streams) {
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  std::printf("streams that never read: %d chunks written, RSS %lld MB while held\n",
              written.load(), static_cast<long long>(while_held_kb / 1024));
  ExpectServingTheSameDecisions();
  ExpectRssSettles("streams that never read", sampler.peak_kb());
}

// Hundreds of batches and streams cancelled mid-flight: every call ends OK or CANCELLED, nothing
// leaks (not even a place under --max_concurrent_calls), and the cap then refuses exactly the
// call over it, naming the flag.
TEST_F(AbuseTest, ManyCancelledCallsLeakNothing) {
  constexpr int kMaxCalls = 64;
  const std::vector<v1::Contact> many = synth::Generate(/*seed=*/11, 1000, At(kAt));
  const v1::DecideBatchRequest batch = Batch(many);
  // The twin: the same batches and streams, not cancelled.
  ASSERT_NO_FATAL_FAILURE(
      StartServer({absl::StrCat("--max_concurrent_calls=", kMaxCalls)}, [this, &batch, &many] {
        constexpr int kWave = 25;
        std::vector<grpc::ClientContext> contexts(kWave);
        std::vector<v1::DecideBatchResponse> responses(kWave);
        std::atomic<int> failed{0};
        absl::BlockingCounter done(kWave);
        for (int i = 0; i < kWave; ++i) {
          contexts[i].set_deadline(Deadline());
          server_->stub().async()->DecideBatch(&contexts[i], &batch, &responses[i],
                                               [&](grpc::Status status) {
                                                 failed += !status.ok();
                                                 done.DecrementCount();
                                               });
        }
        done.Wait();
        ASSERT_EQ(failed.load(), 0);
        ConcurrentStreams(4, 1, Chunk(many, 0, 500));  // and the streams' one chunk
      }));
  RssSampler sampler(server_->process().pid());
  std::mt19937 random(5);
  std::atomic<int> unexpected{0};
  std::atomic<int> cancelled{0};  // batches
  std::atomic<int> streams_cancelled{0};
  // Batches, 25 in flight at a time, each cancelled within a few milliseconds of being sent.
  for (int wave = 0; wave < 6; ++wave) {
    constexpr int kWave = 25;
    std::vector<grpc::ClientContext> contexts(kWave);
    std::vector<v1::DecideBatchResponse> responses(kWave);
    absl::BlockingCounter done(kWave);
    for (int i = 0; i < kWave; ++i) {
      contexts[i].set_deadline(Deadline());
      server_->stub().async()->DecideBatch(&contexts[i], &batch, &responses[i],
                                           [&](grpc::Status status) {
                                             if (status.error_code() == grpc::StatusCode::CANCELLED)
                                               ++cancelled;
                                             else if (!status.ok())
                                               ++unexpected;
                                             done.DecrementCount();
                                           });
    }
    for (int i = 0; i < kWave; ++i) {
      absl::SleepFor(absl::Microseconds(random() % 150));  // the wave spans about 2 ms
      contexts[i].TryCancel();
    }
    done.Wait();
  }
  // Streams, four clients at a time, cancelled at every point of their life.
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        grpc::ClientContext context;
        context.set_deadline(Deadline());
        std::unique_ptr<Stream> stream = server_->stub().DecideStream(&context);
        v1::DecideStreamResponse response;
        const int when = (t + i) % 4;
        if (when >= 1) stream->Write(StreamStart());
        if (when >= 2) stream->Write(Chunk(many, 0, 500));
        if (when >= 3) stream->Read(&response);
        context.TryCancel();
        const grpc::Status status = stream->Finish();
        if (status.error_code() == grpc::StatusCode::CANCELLED) {
          ++streams_cancelled;
        } else {
          ++unexpected;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(unexpected.load(), 0);
  // Every stream is cancelled before it ends; a batch of 1,000 contacts is decided in about a
  // millisecond, so only some of them are caught mid-flight (how many depends on the machine),
  // but some must be, or the test shows nothing.
  EXPECT_EQ(streams_cancelled.load(), 160);
  EXPECT_GT(cancelled.load(), 0);
  ExpectServingTheSameDecisions();
  ExpectRssSettles("cancelled calls", sampler.peak_kb());

  // No place was leaked: kMaxCalls streams open at once (each answered once, so the server holds
  // it), and the next deciding call is refused naming the limit and its flag. Cancelled calls end
  // on the server a moment after the client has let go: hence the retries.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<Stream>> open;
  for (int i = 0; i < kMaxCalls; ++i) {
    std::unique_ptr<Stream> stream;
    v1::DecideStreamResponse response;
    bool answered = false;
    for (int attempt = 0; attempt < 50 && !answered; ++attempt) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      contexts.back()->set_deadline(Deadline());
      stream = server_->stub().DecideStream(contexts.back().get());
      answered = stream->Write(StreamStart()) && stream->Write(Chunk(probe_, 0, 1)) &&
                 stream->Read(&response);
      if (!answered) {
        stream->Finish();
        absl::SleepFor(absl::Milliseconds(100));
      }
    }
    ASSERT_TRUE(answered) << "stream " << i << " of " << kMaxCalls << " was refused";
    open.push_back(std::move(stream));
  }
  v1::DecideResponse refused;
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  const grpc::Status over = server_->stub().Decide(&context, DecideRequestFor(0), &refused);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(over.error_message(), HasSubstr("--max_concurrent_calls"));
  ExpectServing();  // health is never refused
  for (const auto& stream : open) {
    stream->WritesDone();
    v1::DecideStreamResponse response;
    while (stream->Read(&response)) {
    }
    EXPECT_TRUE(stream->Finish().ok());
  }
}

// Thousands of small calls at once over a few connections: every one answered, and right.
TEST_F(AbuseTest, ThousandsOfConcurrentSmallCallsAreAllAnsweredRight) {
  // The twin: a thousand at once.
  ASSERT_NO_FATAL_FAILURE(StartServer({}, [this] { ConcurrentDecides(1000); }));
  RssSampler sampler(server_->process().pid());
  std::vector<v1::DecideRequest> requests;
  for (int i = 0; i < 4000; ++i) requests.push_back(DecideRequestFor(static_cast<size_t>(i)));
  std::atomic<bool> stop{false};
  std::atomic<int> health_failures{0};
  std::thread prober([&] {
    auto health = grpc::health::v1::Health::NewStub(server_->channel());
    while (!stop.load()) {
      grpc::ClientContext context;
      context.set_deadline(Deadline(absl::Seconds(5)));
      grpc::health::v1::HealthCheckResponse response;
      if (!health->Check(&context, {}, &response).ok()) ++health_failures;
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  std::vector<v1::DecideResponse> responses;
  const std::vector<grpc::Status> statuses = DecideConcurrently(requests, 8, &responses);
  stop = true;
  prober.join();
  int wrong = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    v1::Decision expected = reference_.decisions(static_cast<int>(i % probe_.size()));
    expected.set_index(0);
    wrong += !google::protobuf::util::MessageDifferencer::Equals(responses[i].decision(), expected);
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(health_failures.load(), 0);
  ExpectServingTheSameDecisions();
  ExpectRssSettles("concurrent small calls", sampler.peak_kb());
}

// --- The stream rate limit ----------------------------------------------------------------------

// A stream sending faster than --max_stream_contacts_per_second is slowed down, not failed: all
// of its contacts are decided, over at least the time the rate allows. Others are not held up.
TEST_F(AbuseTest, StreamRateLimitPacesAFastSender) {
  constexpr int kRate = 2000;
  ASSERT_NO_FATAL_FAILURE(StartServer({absl::StrCat("--max_stream_contacts_per_second=", kRate)}));
  const std::vector<v1::Contact> many = synth::Generate(/*seed=*/12, 5000, At(kAt));
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(60)));
  const absl::Time begin = absl::Now();
  std::unique_ptr<Stream> stream = server_->stub().DecideStream(&context);
  ASSERT_TRUE(stream->Write(StreamStart()));
  std::thread writer([&] {
    for (size_t at = 0; at < many.size(); at += 1000) {
      if (!stream->Write(Chunk(many, at, 1000))) return;
    }
    stream->WritesDone();
  });
  // While the fast stream waits, another call is served at once.
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time probe_begin = absl::Now();
  ExpectServingTheSameDecisions();
  const absl::Duration probe_took = absl::Now() - probe_begin;
  uint64_t decided = 0;
  v1::DecideStreamResponse response;
  while (stream->Read(&response)) {
    if (response.has_summary()) {
      EXPECT_EQ(response.summary().contacts(), many.size());
    }
    decided += response.decisions().decisions_size();
  }
  writer.join();
  ASSERT_TRUE(stream->Finish().ok());
  const absl::Duration took = absl::Now() - begin;
  EXPECT_EQ(decided, many.size());
  // One second's worth is free, the other 3000 contacts take 1.5 s at 2000/s.
  EXPECT_GE(took, absl::Milliseconds(1400)) << "not paced";
  EXPECT_LT(probe_took, took);
  std::printf("5000 contacts at --max_stream_contacts_per_second=%d took %s\n", kRate,
              absl::FormatDuration(took).c_str());
}

}  // namespace
}  // namespace lawful::testing
