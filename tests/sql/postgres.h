// A real PostgreSQL server for one test program: initdb in a fresh directory, a server on a
// unix socket in that directory (no TCP), stopped and removed when the object goes away. As root
// (CI) the server runs as the unprivileged `postgres` user, since initdb refuses root. A watchdog
// process stops and removes it when this process ends in any way (a crash, a signal, a timeout).
#pragma once

#include <string>
#include <vector>

namespace lawful::testing {

class Postgres {
 public:
  Postgres();
  ~Postgres();
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;

  // Empty when the server runs; else what went wrong.
  const std::string& error() const { return error_; }
  // A connection string for `database` (created by CreateDatabase, or "postgres").
  std::string Conninfo(const std::string& database) const;
  // Creates an empty database; false (and error()) when it cannot.
  bool CreateDatabase(const std::string& name);

 private:
  bool Run(const std::string& what, const std::vector<std::string>& argv);

  std::string dir_;
  std::string error_;
  bool started_ = false;
  int watchdog_ = -1;  // the write end of the watchdog's pipe: closing it wakes the watchdog
  int watchdog_pid_ = -1;
};

}  // namespace lawful::testing
