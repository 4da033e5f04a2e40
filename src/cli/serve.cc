// pare serve (MODEL | --model-repository DIR) [options]: an Open Inference Protocol (KServe v2)
// REST server; see docs/serving.md.
#include <pthread.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "serve/openai.h"
#include "serve/server.h"

namespace pare::cli {

void add_serve(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("serve", "Serve models over HTTP with the Open Inference Protocol (KServe v2)");
  struct Opts {
    std::string model, repo_dir, name, api_key_file;
    serve::ServerOptions server;
    serve::ModelConfig config;
    serve::LlmServeOptions llm;
    double max_body_mb = 64;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->model,
                  "a single ONNX model file, served as its file name without extension; or a GGUF language model "
                  "(.gguf), served with the OpenAI-compatible /v1 API");
  cmd->add_option("--model-repository", o->repo_dir,
                  "folder of models: DIR/<model>/<version>/model.onnx plus optional DIR/<model>/config.toml");
  cmd->add_option("--name", o->name, "model name for a single MODEL (default: file name without extension)");
  cmd->add_option("--host", o->server.host, "address to bind (loopback unless told otherwise)")->default_val("127.0.0.1");
  cmd->add_option("--port", o->server.port, "TCP port")->default_val(8000);
  cmd->add_option("--threads", o->server.threads, "HTTP worker threads (concurrent connections served)")->default_val(8);
  cmd->add_option("--instances", o->config.instances,
                  "session instances of a single MODEL (each runs one request at a time)")->default_val(1);
  cmd->add_option("--model-threads", o->config.threads, "compute threads per session instance of a single MODEL, or per sequence of a GGUF model (0: all cores)")
      ->default_val(1);
  cmd->add_option("--max-queue-size", o->config.max_queue_size,
                  "requests waiting for an instance of a single MODEL beyond which the answer is 503")->default_val(64);
  cmd->add_option("--request-timeout-ms", o->config.timeout_ms,
                  "longest wait for an instance before 503, single MODEL")->default_val(30000);
  cmd->add_option("--max-batch-size", o->config.max_batch_size,
                  "dynamic batching for a single MODEL: concurrent requests are concatenated along dim 0 up to this many rows "
                  "(0 or 1: off; the model's first input dim must be dynamic)")->default_val(0);
  cmd->add_option("--batch-delay-us", o->config.max_queue_delay_us,
                  "dynamic batching: how long the oldest queued request may wait for others to join its batch (microseconds)")
      ->default_val(0);
  cmd->add_option("--preferred-batch-sizes", o->config.preferred_batch_sizes,
                  "dynamic batching: row counts that run at once when reached (space or comma separated)")
      ->delimiter(',');
  cmd->add_option("--parallel", o->llm.slots,
                  "GGUF model: sequences generated at once, each with its own KV cache (more requests wait in the queue)")
      ->default_val(2);
  cmd->add_flag("!--no-continuous-batching", o->llm.continuous_batching,
                "GGUF model: give each sequence its own decode steps instead of running the --parallel sequences' "
                "steps as one batch (continuous batching, the default: the weights are read once per step)");
  cmd->add_option("-c,--ctx-size", o->llm.n_ctx, "GGUF model: context tokens per sequence (0: the model's, at most 4096)")
      ->default_val(0);
  cmd->add_option("--api-key-file", o->api_key_file,
                  "file holding the API key; clients must send 'Authorization: Bearer KEY' (health endpoints exempt)");
  cmd->add_option("--tls-cert", o->server.tls_cert, "PEM certificate: serve HTTPS (needs --tls-key)");
  cmd->add_option("--tls-key", o->server.tls_key, "PEM private key for --tls-cert");
  cmd->add_option("--poll-interval", o->server.poll_interval_s,
                  "seconds between repository scans for new versions (0: off); a new version is loaded beside the old and swapped in")
      ->default_val(0);
  cmd->add_option("--max-body-mb", o->max_body_mb, "largest request body in MiB (larger: 413)")->default_val(64);
  cmd->add_option("--read-timeout", o->server.read_timeout_s, "seconds a client may take to send a request")->default_val(5);
  cmd->add_option("--write-timeout", o->server.write_timeout_s, "seconds a client may take to read a response")->default_val(5);
  cmd->add_option("--keep-alive-max", o->server.keep_alive_max, "requests per keep-alive connection")->default_val(1000);
  cmd->callback([o, &rc] {
    if (o->model.empty() == o->repo_dir.empty()) {
      rc = report(invalid_input("give exactly one of MODEL or --model-repository DIR"));
      return;
    }
    if (o->server.tls_cert.empty() != o->server.tls_key.empty()) {
      rc = report(invalid_input("--tls-cert and --tls-key go together"));
      return;
    }
    if (Status b = serve::validate_batching(o->config); !b.ok()) {
      rc = report(b);
      return;
    }
    if (o->max_body_mb <= 0 || o->server.threads < 1) {
      rc = report(invalid_input("--max-body-mb and --threads must be positive"));
      return;
    }
    o->server.max_body_bytes = static_cast<size_t>(o->max_body_mb * 1024 * 1024);
    if (!o->api_key_file.empty()) {
      std::ifstream f(o->api_key_file);
      std::stringstream ss;
      ss << f.rdbuf();
      std::string key = ss.str();
      while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
      if (!f || key.empty()) {
        rc = report(io_error("cannot read an API key from '{}'", o->api_key_file));
        return;
      }
      o->server.api_key = key;
    }
    // Block SIGTERM/SIGINT before any thread starts (session workers inherit the mask), so
    // only run_server's signal thread receives them and drains.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    serve::Repository repo(o->repo_dir);
    std::unique_ptr<serve::LlmService> llm;
    if (o->model.size() > 5 && o->model.substr(o->model.size() - 5) == ".gguf") {
      std::string name = o->name.empty() ? std::filesystem::path(o->model).stem().string() : o->name;
      o->llm.threads = o->config.threads;
      o->llm.max_queue = o->config.max_queue_size;
      o->llm.timeout_ms = o->config.timeout_ms;
      auto l = serve::LlmService::load(o->model, name, o->llm);
      if (!l.ok()) {
        rc = report(l.status());
        return;
      }
      llm = std::move(*l);
    } else if (!o->model.empty()) {
      std::string name = o->name.empty() ? std::filesystem::path(o->model).stem().string() : o->name;
      Status st = repo.add_single(name, o->model, o->config);
      if (!st.ok()) {
        rc = report(st);
        return;
      }
    } else {
      if (!std::filesystem::is_directory(o->repo_dir)) {
        rc = report(io_error("model repository '{}' is not a folder", o->repo_dir));
        return;
      }
      repo.load_all();
      for (const auto& [n, e] : repo.snapshot())
        std::fprintf(stderr, "pare serve: model %s %s%s%s\n", n.c_str(), e.state.c_str(), e.reason.empty() ? "" : ": ",
                     e.reason.c_str());
    }
    Status st = serve::run_server(repo, o->server, llm.get());
    rc = st.ok() ? 0 : report(st);
  });
}

}  // namespace pare::cli
