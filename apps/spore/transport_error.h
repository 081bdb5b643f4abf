#pragma once
// What a failed cpp-httplib request means, in words a user can act on. Shared by every command.

#include <httplib.h>

#include <string>

namespace spore::cli {

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
