// The HTTP front: httplib server (TLS when a cert is given), OIP v2 routes, auth, access log,
// metrics, version polling and SIGTERM/SIGINT drain.
#pragma once

#include <string>

#include "serve/repository.h"

namespace pare::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  int threads = 8;                     // HTTP worker threads
  std::string api_key;                 // empty: no auth
  std::string tls_cert, tls_key;       // both set: HTTPS
  size_t max_body_bytes = 64u << 20;
  int read_timeout_s = 5, write_timeout_s = 5;
  int keep_alive_max = 1000, keep_alive_timeout_s = 5;
  double poll_interval_s = 0;          // > 0: rescan the repository for new versions
};

class LlmService;

// Serves until SIGTERM/SIGINT, then stops accepting, finishes in-flight requests and returns.
// LLM (optional): the OpenAI-compatible /v1 routes of a GGUF model.
Status run_server(Repository& repo, const ServerOptions& opts, LlmService* llm = nullptr);

// Constant-time comparison (no early exit on the first differing byte).
bool constant_time_equal(const std::string& a, const std::string& b);

// The page served at "/".
const char* web_page_html();

}  // namespace pare::serve
