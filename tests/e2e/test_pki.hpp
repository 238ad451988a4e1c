// A throwaway PKI for the HTTPS tests (the service's, tsctl's): a CA and a server
// certificate for 127.0.0.1 made with the openssl command in a test's directory.
#pragma once

#include <string>
#include <vector>

#include "tests/e2e/service.hpp"

namespace ts::e2e {

/// A CA, a server certificate signed by it for IP 127.0.0.1 (server.crt, server.key, mode
/// 600), and a second key that matches nothing (other.key), in `dir`. REQUIREs that openssl
/// made them.
struct test_pki {
  explicit test_pki(const temp_dir& dir);

  /// The service's options that serve HTTPS with this certificate.
  std::vector<std::string> flags() const {
    return {"--tls-cert-file=" + cert, "--tls-key-file=" + key};
  }

  std::string ca_cert;
  std::string cert;
  std::string key;
  std::string other_key;
};

} // namespace ts::e2e
