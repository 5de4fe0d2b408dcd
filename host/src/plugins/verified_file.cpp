#include "plugins/verified_file.hpp"

#include <osago/common/ids.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace osago::host {
namespace {

std::string reason() { return std::strerror(errno); }

/// Closes a descriptor unless released.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int out = fd;
    fd = -1;
    return out;
  }
};

}  // namespace

std::shared_ptr<VerifiedFile> VerifiedFile::open(const std::filesystem::path& path, std::size_t max_bytes,
                                                 std::string* content) {
  const std::string name = path.string();
  // O_NONBLOCK: a FIFO planted at the path cannot hold this thread in open().
  Descriptor d{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (d.fd < 0) {
    if (errno == ELOOP) throw FileRefused(name + ": refused: a symbolic link (install the file itself)");
    throw FileRefused(name + ": cannot be opened: " + reason());
  }
  struct stat st {};
  if (::fstat(d.fd, &st) != 0) throw FileRefused(name + ": cannot be read: " + reason());
  if (!S_ISREG(st.st_mode)) throw FileRefused(name + ": refused: not a regular file");
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    throw FileRefused(name + ": refused: owned by uid " + std::to_string(st.st_uid) +
                      ", not by this service's user or root (chown it)");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw FileRefused(name + ": refused: writable by group or others (chmod go-w it)");
  if (static_cast<std::size_t>(st.st_size) > max_bytes)
    throw FileRefused(name + ": refused: " + std::to_string(st.st_size) + " bytes, more than the " +
                      std::to_string(max_bytes) + " allowed");
  ::fcntl(d.fd, F_SETFL, ::fcntl(d.fd, F_GETFL) & ~O_NONBLOCK);
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  std::string bytes;
  char buf[65536];
  std::size_t total = 0;
  while (true) {
    ssize_t n = ::pread(d.fd, buf, sizeof buf, static_cast<off_t>(total));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileRefused(name + ": cannot be read: " + reason());
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
    if (total > max_bytes) throw FileRefused(name + ": refused: it grew past " + std::to_string(max_bytes) + " bytes");
    engine.update(buf, static_cast<unsigned>(n));
    if (content) bytes.append(buf, static_cast<std::size_t>(n));
  }
  if (content) *content = std::move(bytes);
  std::string sha = Poco::DigestEngine::digestToHex(engine.digest());
  return std::shared_ptr<VerifiedFile>(new VerifiedFile(path, d.release(), std::move(sha)));
}

VerifiedFile::~VerifiedFile() { ::close(fd_); }

void ensurePrivateDirectory(const std::filesystem::path& dir) {
  const std::string name = dir.string();
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw FileRefused(name + ": cannot be created: " + reason() + " (plugins.cache_directory)");
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) throw FileRefused(name + ": cannot be read: " + reason());
  if (S_ISLNK(st.st_mode)) throw FileRefused(name + ": refused as the plugin cache: a symbolic link");
  if (!S_ISDIR(st.st_mode)) throw FileRefused(name + ": refused as the plugin cache: not a directory");
  if (st.st_uid != ::geteuid())
    throw FileRefused(name + ": refused as the plugin cache: owned by uid " + std::to_string(st.st_uid) +
                      ", not by this service's user (uid " + std::to_string(::geteuid()) +
                      "): someone else could plant code in it; remove it or chown it");
  if (st.st_mode & 0077)
    throw FileRefused(name + ": refused as the plugin cache: open to group or others (chmod 700 it)");
}

void placePrivateFile(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::path target = dir / name;
  std::filesystem::path tmp = dir / (name + ".tmp-" + std::to_string(::getpid()) + "-" + newUuid().substr(0, 8));
  Descriptor d{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
  if (d.fd < 0) throw FileRefused("cannot write the plugin copy " + tmp.string() + ": " + reason());
  std::size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(d.fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = reason();
      ::unlink(tmp.c_str());
      throw FileRefused("cannot write the plugin copy " + tmp.string() + ": " + why);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fchmod(d.fd, 0500) != 0 || ::fsync(d.fd) != 0 || ::close(d.release()) != 0 ||
      ::rename(tmp.c_str(), target.c_str()) != 0) {
    std::string why = reason();
    ::unlink(tmp.c_str());
    throw FileRefused("cannot place the plugin copy " + target.string() + ": " + why);
  }
}

}  // namespace osago::host
