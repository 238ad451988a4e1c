#include "tests/e2e/test_pki.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

namespace ts::e2e {

test_pki::test_pki(const temp_dir& dir)
  : ca_cert(dir.file("ca.crt")), cert(dir.file("server.crt")), key(dir.file("server.key")),
    other_key(dir.file("other.key")) {
  REQUIRE(write_file(dir.file("ext.cnf"), "basicConstraints=CA:FALSE\n"
                                          "keyUsage=digitalSignature\n"
                                          "extendedKeyUsage=serverAuth\n"
                                          "subjectAltName=IP:127.0.0.1\n"));
  std::vector<std::vector<std::string>> steps{
    {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
     "-nodes", "-days", "2", "-subj", "/CN=ts-test-ca", "-keyout", dir.file("ca.key"), "-out",
     ca_cert},
    {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
     "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", dir.file("server.csr")},
    {"openssl", "x509", "-req", "-in", dir.file("server.csr"), "-CA", ca_cert, "-CAkey",
     dir.file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", dir.file("ext.cnf"),
     "-out", cert},
    {"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
     other_key},
  };
  for (auto& argv : steps) {
    auto r = run_command(argv, {}, 60s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  REQUIRE(::chmod(key.c_str(), 0600) == 0);
  REQUIRE(::chmod(other_key.c_str(), 0600) == 0);
}

} // namespace ts::e2e
