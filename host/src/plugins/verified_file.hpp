#pragma once

#include <osago/common/errors.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace osago::host {

/// A file of the plugin path refused: a symbolic link, not a regular file, of
/// another owner, writable by others, too large, unreadable. The message names
/// the file, the reason and what to do.
class FileRefused : public Error {
 public:
  using Error::Error;
};

/// A file opened so that what is checked is what is used: opened with
/// O_NOFOLLOW (a symbolic link is refused), checked with fstat on that
/// descriptor (a regular file owned by this service's user or root, not
/// writable by group or others), read and hashed from it. The descriptor stays
/// open (close-on-exec): code is loaded from it through procPath(), so a file
/// swapped at the path afterwards changes nothing. Immutable.
class VerifiedFile {
 public:
  /// Opens and checks `path`; its content (at most `max_bytes`) goes to
  /// `content` when given. Throws FileRefused.
  static std::shared_ptr<VerifiedFile> open(const std::filesystem::path& path, std::size_t max_bytes,
                                            std::string* content = nullptr);
  ~VerifiedFile();
  VerifiedFile(const VerifiedFile&) = delete;
  VerifiedFile& operator=(const VerifiedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }
  int fd() const { return fd_; }
  /// "/proc/self/fd/N": the checked file itself, for dlopen.
  std::string procPath() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  VerifiedFile(std::filesystem::path path, int fd, std::string sha256)
      : path_(std::move(path)), fd_(fd), sha256_(std::move(sha256)) {}
  std::filesystem::path path_;
  int fd_;
  std::string sha256_;
};

/// Makes `dir` (missing parents 0755, itself 0700) unless it exists, then
/// checks it without following a link: a directory owned by this service's
/// user with no access for group or others. Throws FileRefused saying how to mend it.
void ensurePrivateDirectory(const std::filesystem::path& dir);

/// Places `bytes` at `dir/name`, mode 0500: written to a new file beside it
/// (O_CREAT|O_EXCL|O_NOFOLLOW, so no link is followed and no file reused),
/// synced, then renamed over `name`. Throws FileRefused.
void placePrivateFile(const std::filesystem::path& dir, const std::string& name, const std::string& bytes);

}  // namespace osago::host
