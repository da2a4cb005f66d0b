// A real lawfuld for end-to-end tests (started on a free port, its stderr in a log file) and the
// certificates its TLS tests need. Shared by the integration, abuse and authorisation tests; the
// including target defines LAWFULD_PATH.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "lawful/testkit.h"
#include "lawful/v1/service.grpc.pb.h"

namespace lawful::testing {

// Generous for a sanitizer build on a loaded 2-core machine, still bounded.
inline constexpr absl::Duration kServerStartTimeout = absl::Seconds(15);

// A running lawfuld, stopped (SIGKILL if need be) when the object goes away.
class Lawfuld {
 public:
  // Starts lawfuld on a free port and waits for its startup line. On failure, `error` says why.
  // `credentials` default to plaintext; `arguments` configure the test's channel.
  Lawfuld(const std::filesystem::path& rules_dir, const std::filesystem::path& log_path,
          const std::vector<std::string>& extra_flags = {},
          std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
          const grpc::ChannelArguments& arguments = {}) {
    std::vector<std::string> argv = {LAWFULD_PATH, "--listen=127.0.0.1:0",
                                     "--rules=" + rules_dir.string()};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    process_ = std::make_unique<testkit::Process>(
        argv, testkit::Process::Options{
                  .stdin_path = "", .stderr_path = log_path.string(), .working_dir = ""});
    if (!process_->started()) {
      error_ = "lawfuld did not start";
      return;
    }
    const std::optional<std::string> line = process_->ReadLine(kServerStartTimeout);
    if (!line.has_value()) {
      error_ = "no startup line; log: " + testkit::ReadFile(log_path);
      return;
    }
    static const std::regex kStartup(
        R"(lawfuld: listening on 127\.0\.0\.1:(\d+), serving rule set ([0-9a-f]+) \((\d+) files\))");
    std::smatch match;
    if (!std::regex_match(*line, match, kStartup)) {
      error_ = "unexpected startup line: " + *line;
      return;
    }
    address_ = "127.0.0.1:" + match[1].str();
    version_ = match[2].str();
    files_ = std::stoi(match[3].str());
    if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
    channel_ = grpc::CreateCustomChannel(address_, credentials, arguments);
    if (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      error_ = "cannot connect to " + address_;
      return;
    }
    stub_ = v1::Lawful::NewStub(channel_);
  }

  const std::string& error() const { return error_; }
  const std::string& address() const { return address_; }
  int port() const { return std::stoi(address_.substr(address_.rfind(':') + 1)); }
  const std::string& version() const { return version_; }
  int files() const { return files_; }
  testkit::Process& process() { return *process_; }
  v1::Lawful::Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::unique_ptr<testkit::Process> process_;
  std::string error_;
  std::string address_;
  std::string version_;
  int files_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Lawful::Stub> stub_;
};

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate (`client`,
// CN=lawful client), made with the openssl command in `dir`; AddClient makes more clients.
class Certificates {
 public:
  explicit Certificates(const std::filesystem::path& dir) : dir_(dir) {
    testkit::WriteFile(dir_ / "server.ext",
                       "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    Run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", Path("ca.key"), "-out", Path("ca.crt"), "-days", "2", "-subj",
         "/CN=lawful test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
         "keyUsage=critical,keyCertSign,cRLSign"});
    Sign("server", "/CN=localhost");
    AddClient("client", "/CN=lawful client");
  }

  // A client certificate `<name>.crt` (key `<name>.key`) signed by the CA, for `subject` (e.g.
  // "/CN=newsletter service/O=Example AB") and, unless empty, the subjectAltName `alt_names`
  // (e.g. "DNS:newsletter.internal,URI:spiffe://example.org/newsletter").
  void AddClient(const std::string& name, const std::string& subject,
                 const std::string& alt_names = "") {
    testkit::WriteFile(
        dir_ / (name + ".ext"),
        absl::StrCat("extendedKeyUsage=clientAuth\n",
                     alt_names.empty() ? "" : absl::StrCat("subjectAltName=", alt_names, "\n")));
    Sign(name, subject);
  }

  // Empty when every openssl command succeeded.
  const std::string& error() const { return error_; }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Read(const std::string& name) const { return testkit::ReadFile(dir_ / name); }

  // TLS channel credentials trusting the test CA, with the client certificate or without.
  std::shared_ptr<grpc::ChannelCredentials> Client(bool with_certificate) const {
    return with_certificate ? ClientAs("client") : ClientAs("");
  }
  // ... presenting the certificate AddClient made as `name` ("" for none).
  std::shared_ptr<grpc::ChannelCredentials> ClientAs(const std::string& name) const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Read("ca.crt");
    if (!name.empty()) {
      options.pem_private_key = Read(name + ".key");
      options.pem_cert_chain = Read(name + ".crt");
    }
    return grpc::SslCredentials(options);
  }

 private:
  // A key and a certificate for `name`, signed by the CA with the extensions in `<name>.ext`.
  void Sign(const std::string& name, const std::string& subject) {
    Run({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         Path(name + ".key"), "-out", Path(name + ".csr"), "-subj", subject});
    Run({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Path("ca.crt"), "-CAkey",
         Path("ca.key"), "-CAcreateserial", "-out", Path(name + ".crt"), "-days", "2", "-extfile",
         Path(name + ".ext")});
  }

  void Run(std::vector<std::string> arguments) {
    if (!error_.empty()) return;
    arguments.insert(arguments.begin(), "/usr/bin/openssl");
    const testkit::CommandResult result = testkit::RunCommand(arguments);
    if (result.exit_code != 0)
      error_ = absl::StrCat(absl::StrJoin(arguments, " "), ": ", result.err);
  }

  std::filesystem::path dir_;
  std::string error_;
};

}  // namespace lawful::testing
