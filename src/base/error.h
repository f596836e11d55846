#pragma once
// Errors as values. An Error carries a class (Errc, modelled on containerd's errdefs), an optional errno
// and a human message that grows a context chain as it travels up: "create: mount `/proc`: Permission denied".
//
//   Result<T>  = tl::expected<T, Error>     Status = Result<void>
//   BERTH_TRY(expr)   evaluates expr (a Result); on error returns the Error from the enclosing function,
//                     otherwise yields the value (GNU statement expression, g++ and clang).
//   berth::fail(Errc, fmt, args...)  builds an unexpected Error with a formatted message.

#include <fmt/format.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <type_traits>
#include <utility>

namespace berth {

enum class Errc {
  NotFound,
  AlreadyExists,
  InvalidArgument,
  FailedPrecondition,
  PermissionDenied,
  Conflict,
  Unavailable,
  Canceled,
  Unimplemented,
  Internal,
};

std::string_view errc_name(Errc c);

class Error {
 public:
  Error() = default;
  Error(Errc code, std::string msg, int sys_errno = 0) : code_(code), errno_(sys_errno), msg_(std::move(msg)) {}

  static Error make(Errc code, std::string msg) { return Error(code, std::move(msg)); }
  // "what: strerror(err)"; the class is derived from the errno (ENOENT -> NotFound, EEXIST -> AlreadyExists, ...).
  static Error from_errno(int err, std::string_view what);

  // Prefix context: "context: <message>".
  Error&& wrap(std::string_view context) && {
    msg_ = fmt::format("{}: {}", context, msg_);
    return std::move(*this);
  }
  Error wrap(std::string_view context) const& {
    Error e = *this;
    return std::move(e).wrap(context);
  }

  Errc code() const { return code_; }
  int sys_errno() const { return errno_; }
  const std::string& message() const { return msg_; }

 private:
  Errc code_ = Errc::Internal;
  int errno_ = 0;
  std::string msg_;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

template <class... Args>
tl::unexpected<Error> fail(Errc code, fmt::format_string<Args...> f, Args&&... args) {
  return tl::unexpected<Error>(Error(code, fmt::format(f, std::forward<Args>(args)...)));
}

// Fails with the current errno: fail_errno("open `{}`", path).
template <class... Args>
tl::unexpected<Error> fail_errno(fmt::format_string<Args...> f, Args&&... args) {
  int e = errno;
  return tl::unexpected<Error>(Error::from_errno(e, fmt::format(f, std::forward<Args>(args)...)));
}

template <class... Args>
tl::unexpected<Error> fail_errno_n(int err, fmt::format_string<Args...> f, Args&&... args) {
  return tl::unexpected<Error>(Error::from_errno(err, fmt::format(f, std::forward<Args>(args)...)));
}

inline Status ok() { return {}; }

[[noreturn]] void check_failed(const char* expr, const char* file, int line, std::string_view msg);

namespace detail {
// BERTH_TRY's value step: yields the value of a Result<T>, nothing for a Status.
template <class R>
decltype(auto) try_value(R&& r) {
  if constexpr (std::is_void_v<typename std::decay_t<R>::value_type>) {
    return;
  } else {
    return std::forward<R>(r).value();
  }
}
}  // namespace detail

}  // namespace berth

#define BERTH_TRY(expr)                                                   \
  ({                                                                      \
    auto&& berth_try_r_ = (expr);                                         \
    if (!berth_try_r_) return ::tl::unexpected(std::move(berth_try_r_).error()); \
    ::berth::detail::try_value(std::move(berth_try_r_));                  \
  })

// Like BERTH_TRY but adds context to the error.
#define BERTH_TRY_CTX(expr, ...)                                          \
  ({                                                                      \
    auto&& berth_try_r_ = (expr);                                         \
    if (!berth_try_r_)                                                    \
      return ::tl::unexpected(std::move(berth_try_r_).error().wrap(fmt::format(__VA_ARGS__))); \
    ::berth::detail::try_value(std::move(berth_try_r_));                  \
  })

#define BERTH_CHECK(cond, msg)                                             \
  do {                                                                     \
    if (!(cond)) ::berth::check_failed(#cond, __FILE__, __LINE__, (msg));  \
  } while (0)
