// errors the addon turns into JavaScript errors: code is a stable string
// (ERR_SHAPE, ERR_ARG, ERR_DEVICE, ERR_FREED, ERR_NO_CUDA, ERR_CUDA, ERR_OOM)
// that JavaScript can test; message is for people.
#pragma once
#include <stdexcept>
#include <string>

namespace cudalab {
struct Error : std::runtime_error {
  std::string code;
  Error(std::string code_, const std::string& message)
      : std::runtime_error(message), code(std::move(code_)) {}
};
}  // namespace cudalab
