#pragma once
// cpp-httplib client helpers shared by every command: timeouts, and what a failed request means in
// words a user can act on.

#include <httplib.h>

#include <string>

namespace spore::cli {

/// Connection timeout `connect_s`, read and write timeouts `io_s` (seconds, fractions allowed).
inline void set_timeouts(httplib::Client& client, double connect_s, double io_s) {
  const auto split = [](double s, time_t* sec, time_t* usec) {
    const auto micros = static_cast<long long>(s * 1e6);
    *sec = static_cast<time_t>(micros / 1000000);
    *usec = static_cast<time_t>(micros % 1000000);
  };
  time_t sec = 0, usec = 0;
  split(connect_s, &sec, &usec);
  client.set_connection_timeout(sec, usec);
  split(io_s, &sec, &usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
}

inline std::string describe_transport_error(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection failed (nothing listening there, or the host is unreachable)";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no answer (the read failed or timed out)";
    case httplib::Error::Write:
      return "the connection broke while sending";
    default:
      return httplib::to_string(e);
  }
}

}  // namespace spore::cli
