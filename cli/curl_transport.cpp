#include "cli/curl_transport.hpp"

#include <curl/curl.h>

#include "core/text.hpp"

namespace ts::cli {

namespace {

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* answer = static_cast<http_answer*>(user);
  std::string_view line{data, size * count};
  auto colon = line.find(':');
  // The status line of each response (a 100 Continue's too) starts a new set of headers.
  if (line.rfind("HTTP/", 0) == 0)
    answer->headers.clear();
  else if (colon != std::string_view::npos)
    answer->headers.emplace_back(std::string{trim(line.substr(0, colon))},
                                 std::string{trim(line.substr(colon + 1))});
  return size * count;
}

class curl_transport final : public transport {
public:
  curl_transport(CURL* handle, connection_settings settings)
    : handle_(handle), settings_(std::move(settings)) {
  }
  ~curl_transport() override {
    curl_easy_cleanup(handle_);
    curl_global_cleanup();
  }
  curl_transport(const curl_transport&) = delete;
  curl_transport& operator=(const curl_transport&) = delete;

  http_answer perform(const http_call& call) override {
    http_answer answer;
    CURL* h = handle_;
    curl_easy_reset(h);
    std::string url = settings_.base_url;
    while (!url.empty() && url.back() == '/')
      url.pop_back();
    url += call.target;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
    // Only the API's own schemes; a redirect is never followed (the API sends none).
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    // A slow answer is the server's business, a stalled connection is not: give up on one
    // that moves less than a byte a second for 60 s rather than on a total time.
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tsctl");
    if (!settings_.cacert.empty())
      curl_easy_setopt(h, CURLOPT_CAINFO, settings_.cacert.c_str());
    if (call.method == "HEAD")
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);

    curl_slist* headers = nullptr;
    // libcurl adds `Expect: 100-continue` to larger bodies and then waits for the 100; an
    // empty Expect: takes that header out, so every request is one plain exchange.
    headers = curl_slist_append(headers, "Expect:");
    if (!settings_.token.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + settings_.token).c_str());
    for (auto& [k, v] : call.headers)
      headers = curl_slist_append(headers, (k + ": " + v).c_str());
    if (!call.body.empty() || call.method == "POST" || call.method == "PATCH") {
      headers = curl_slist_append(headers, ("Content-Type: " + call.content_type).c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &answer);
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      answer.transport_error = error[0] != '\0' ? error : curl_easy_strerror(rc);
      return answer;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
  }

private:
  CURL* handle_;
  connection_settings settings_;
};

} // namespace

std::unique_ptr<transport> make_curl_transport(const connection_settings& settings,
                                               std::string& error) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    error = "libcurl could not be initialised";
    return nullptr;
  }
  CURL* handle = curl_easy_init();
  if (handle == nullptr) {
    curl_global_cleanup();
    error = "libcurl could not make a handle";
    return nullptr;
  }
  return std::make_unique<curl_transport>(handle, settings);
}

} // namespace ts::cli
