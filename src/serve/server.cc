#include "serve/server.h"

#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <thread>

// Must match how Debian built libcpp-httplib (OpenSSL, zlib, brotli), or class layouts differ.
#define CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#include <httplib.h>

#include "serve/client_watch.h"
#include "serve/metrics.h"
#include "serve/openai.h"

namespace pare::serve {
namespace {

using json = nlohmann::json;

void send_error(httplib::Response& res, int code, const std::string& msg) {
  res.status = code;
  res.set_content(json{{"error", msg}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_json(httplib::Response& res, const json& j) { res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json"); }

json io_json(const runtime::IoInfo& io) {
  json shape = json::array();
  if (io.type.shape)
    for (const auto& d : *io.type.shape) shape.push_back(d.known() ? d.value : -1);
  return {{"name", io.name}, {"datatype", dtype_to_oip(io.type.dtype)}, {"shape", shape}};
}

bool is_health(const std::string& path) { return path == "/v2/health/live" || path == "/v2/health/ready"; }

class Routes {
 public:
  Routes(Repository& repo, const ServerOptions& opts) : repo_(repo), opts_(opts) {}
  Metrics& metrics() { return metrics_; }

  void install(httplib::Server& s) {
    s.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(web_page_html(), "text/html; charset=utf-8");
    });
    s.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
      send_json(res, {{"name", "pare"}, {"version", "0.1.0"}, {"extensions", {"binary_tensor_data", "model_repository"}}});
    });
    s.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    s.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
      res.status = repo_.all_ready() ? 200 : 503;
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::map<std::string, int> loaded;
      std::map<std::string, ModelGauges> gauges;
      for (const auto& [n, e] : repo_.snapshot()) {
        loaded[n] = e.versions.empty() ? 0 : 1;
        if (!e.versions.empty()) gauges[n] = {e.versions.rbegin()->second->runs(), e.versions.rbegin()->second->in_flight()};
      }
      res.set_content(metrics_.render(loaded, gauges), "text/plain; version=0.0.4");
    });
    const std::string model_re = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
    s.Get(model_re, [this](const httplib::Request& req, httplib::Response& res) { metadata(req, res); });
    s.Get(model_re + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
      auto l = repo_.get(req.matches[1], req.matches[2]);
      if (!l.model) return send_error(res, l.http, l.error);
      res.status = 200;
    });
    s.Post(model_re + "/infer", [this](const httplib::Request& req, httplib::Response& res) { infer(req, res); });
    s.Post("/v2/repository/index", [this](const httplib::Request&, httplib::Response& res) {
      json arr = json::array();
      for (const auto& [n, e] : repo_.snapshot()) {
        json m = {{"name", n}, {"state", e.state}};
        if (!e.versions.empty()) m["version"] = std::to_string(e.versions.rbegin()->first);
        if (!e.reason.empty()) m["reason"] = e.reason;
        arr.push_back(m);
      }
      send_json(res, arr);
    });
    s.Post(R"(/v2/repository/models/([^/]+)/(load|unload))", [this](const httplib::Request& req, httplib::Response& res) {
      std::string name = req.matches[1];
      if (!repo_.has_dir()) return send_error(res, 400, "no model repository (single-model mode)");
      if (!is_safe_model_name(name)) return send_error(res, 400, fmt::format("invalid model name '{}'", name));
      Status st = req.matches[2] == "load" ? repo_.load(name) : repo_.unload(name);
      if (!st.ok()) return send_error(res, 400, st.to_string());
      send_json(res, json::object());
    });
  }

 private:
  void metadata(const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    auto l = repo_.get(name, req.matches[2]);
    if (!l.model) return send_error(res, l.http, l.error);
    json in = json::array(), out = json::array();
    for (const auto& i : l.model->inputs()) in.push_back(io_json(i));
    for (const auto& o : l.model->outputs()) out.push_back(io_json(o));
    send_json(res, {{"name", name}, {"versions", {l.model->version()}}, {"platform", "onnx"}, {"inputs", in}, {"outputs", out}});
  }

  void infer(const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    ServedModel::Stats stats;
    int code = 200;
    auto finish = [&](int c, const std::string& msg) {
      code = c;
      send_error(res, c, msg);
    };
    auto l = repo_.get(name, req.matches[2]);
    if (!l.model) {
      finish(l.http, l.error);
    } else {
      int64_t header_len = -1;
      if (req.has_header("Inference-Header-Content-Length")) {
        const std::string v = req.get_header_value("Inference-Header-Content-Length");
        char* end = nullptr;
        long long n = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n < 0) {
          finish(400, "Inference-Header-Content-Length must be a non-negative integer");
          header_len = -2;
        } else {
          header_len = n;
        }
      }
      if (header_len != -2) {
        auto parsed = parse_infer_request(req.body, header_len);
        if (!parsed.ok()) {
          finish(400, parsed.status().message());
        } else {
          ClientWatch watch(req);
          auto out = l.model->infer(*parsed, &stats, [&watch] { return watch.gone(); });
          if (stats.cancelled) {
            finish(499, out.status().message());  // nginx's "client closed request"; nobody reads it
          } else if (!out.ok()) {
            finish(out.status().code() == StatusCode::kResourceExhausted ? 503 : 400, out.status().message());
          } else {
            std::vector<bool> binary;
            for (const auto& [n, _] : *out) {
              bool b = parsed->all_binary;
              for (const auto& r : parsed->outputs)
                if (r.name == n) b = r.binary;
              binary.push_back(b);
            }
            int64_t hl = -1;
            std::string body = encode_infer_response(name, l.model->version(), parsed->id, *out, binary, &hl);
            if (hl >= 0) {
              res.set_header("Inference-Header-Content-Length", std::to_string(hl));
              res.set_content(std::move(body), "application/octet-stream");
            } else {
              res.set_content(std::move(body), "application/json");
            }
          }
        }
      }
    }
    metrics_.record(name, code, stats.queue_ms, stats.compute_ms, stats.batch);
  }

  Repository& repo_;
  const ServerOptions& opts_;
  Metrics metrics_;
};

}  // namespace

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Runs over the longer length whatever the contents; differences accumulate in `diff`.
  size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() != b.size() ? 1u : 0u;
  for (size_t i = 0; i < n; ++i) {
    unsigned char ca = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char cb = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(ca ^ cb);
  }
  return diff == 0;
}

Status run_server(Repository& repo, const ServerOptions& opts, LlmService* llm) {
  // Signals are taken by a dedicated thread (sigwait); worker threads inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<httplib::Server> server;
  if (!opts.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(opts.tls_cert.c_str(), opts.tls_key.c_str());
    if (!ssl->is_valid()) return invalid_input("TLS: cannot use certificate '{}' with key '{}'", opts.tls_cert, opts.tls_key);
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *server;
  int threads = opts.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_tcp_nodelay(true);  // headers and body go out in separate writes: avoid Nagle + delayed-ACK stalls
  s.set_payload_max_length(opts.max_body_bytes);
  s.set_read_timeout(opts.read_timeout_s, 0);
  s.set_write_timeout(opts.write_timeout_s, 0);
  s.set_keep_alive_max_count(opts.keep_alive_max);
  s.set_keep_alive_timeout(opts.keep_alive_timeout_s);

  const std::string api_key = opts.api_key;
  s.set_pre_routing_handler([api_key](const httplib::Request& req, httplib::Response& res) {
    if (api_key.empty() || is_health(req.path)) return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    std::string token = auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : std::string();
    if (token.empty() || !constant_time_equal(token, api_key)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, token.empty() ? "missing API key (Authorization: Bearer ...)" : "invalid API key");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    std::string line = json{{"remote", req.remote_addr}, {"method", req.method}, {"path", req.path},
                            {"status", res.status}, {"req_bytes", req.body.size()}, {"resp_bytes", res.body.size()}}
                           .dump(-1, ' ', false, json::error_handler_t::replace);
    std::fprintf(stderr, "access %s\n", line.c_str());
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      std::string msg = res.status == 404 ? "not found" : res.status == 413 ? "request body too large" : "bad request";
      send_error(res, res.status, msg);
    }
  });

  Routes routes(repo, opts);
  routes.install(s);
  if (llm) llm->install(s, routes.metrics());

  if (!s.bind_to_port(opts.host, opts.port)) return io_error("cannot bind {}:{}", opts.host, opts.port);
  std::fprintf(stderr, "pare serve: listening on %s://%s:%d\n", opts.tls_cert.empty() ? "http" : "https",
               opts.host.c_str(), opts.port);

  std::atomic<bool> stopping{false};
  std::thread poller;
  if (opts.poll_interval_s > 0 && repo.has_dir()) {
    poller = std::thread([&] {
      while (!stopping) {
        for (int i = 0; i < static_cast<int>(opts.poll_interval_s * 10) && !stopping; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!stopping) repo.poll();
      }
    });
  }
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (stopping) return;
    std::fprintf(stderr, "pare serve: signal %d, draining\n", sig);
    stopping = true;
    s.stop();
  });
  bool ok = s.listen_after_bind();
  if (!stopping) {  // listen failed on its own: wake the signal thread
    stopping = true;
    pthread_kill(signals.native_handle(), SIGTERM);
  }
  signals.join();
  if (poller.joinable()) poller.join();
  std::fprintf(stderr, "pare serve: stopped\n");
  return ok || stopping ? ok_status() : io_error("server failed");
}

}  // namespace pare::serve
