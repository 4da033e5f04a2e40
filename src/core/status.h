// Status and Result<T>: the error model of pare (DESIGN.md §5). No exceptions cross a pare API;
// every path that touches user input returns one of these, with a code and a message that names
// the node, the tensor and what was expected.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace pare {

enum class StatusCode {
  kOk = 0,
  kInvalidModel,       // the model file or graph is malformed
  kUnsupported,        // valid, but pare does not implement it (op, opset, dtype)
  kInvalidInput,       // a run-time input or an argument is wrong (dtype, shape, value)
  kIo,                 // a file could not be read or written
  kResourceExhausted,  // a limit was hit (memory, size caps)
  kInternal,           // a broken invariant inside pare
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid model: node 'conv1' (Conv): ..." — the one line the CLI prints.
  std::string to_string() const;
  // Prefixes context ("while loading x.onnx: ") to an error; no-op on success.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status ok_status() { return Status(); }

template <typename... Args>
Status invalid_model(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kInvalidModel, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status unsupported(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kUnsupported, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status invalid_input(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kInvalidInput, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status io_error(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kIo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status resource_exhausted(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kResourceExhausted, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status internal_error(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kInternal, fmt::format(f, std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(implicit); must not be ok

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace pare

#define PARE_CONCAT_INNER(a, b) a##b
#define PARE_CONCAT(a, b) PARE_CONCAT_INNER(a, b)

// Propagates a non-ok Status (or the status of a failed Result) to the caller.
#define PARE_RETURN_IF_ERROR(expr)                        \
  do {                                                    \
    const ::pare::Status _pare_st = ::pare::to_status(expr); \
    if (!_pare_st.ok()) return _pare_st;                  \
  } while (0)

// `PARE_ASSIGN_OR_RETURN(auto x, make_x());` — unwraps a Result or returns its error.
#define PARE_ASSIGN_OR_RETURN(lhs, expr) \
  PARE_ASSIGN_OR_RETURN_IMPL(PARE_CONCAT(_pare_r, __LINE__), lhs, expr)
#define PARE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

// Always-on check of an internal invariant (never of user input): returns kInternal.
#define PARE_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond))                                                                            \
      return ::pare::internal_error("check failed: {} at {}:{}", #cond, __FILE__, __LINE__); \
  } while (0)

namespace pare {
inline const Status& to_status(const Status& s) { return s; }
template <typename T>
const Status& to_status(const Result<T>& r) { return r.status(); }
}  // namespace pare
