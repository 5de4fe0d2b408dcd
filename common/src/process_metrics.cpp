// The standard process_* metrics (as Prometheus' own clients name them), read
// from /proc at each scrape: CPU seconds, memory, descriptors, threads and the
// start time.
#include <osago/common/metrics.hpp>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace osago::metrics {
namespace {

/// The fields of /proc/self/stat after the command name (field 3 first).
std::vector<std::string> statFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> out;
  auto close = line.rfind(')');  // the name may hold spaces and parentheses
  if (close == std::string::npos) return out;
  std::istringstream rest(line.substr(close + 1));
  for (std::string f; rest >> f;) out.push_back(f);
  return out;
}

std::optional<double> bootTime() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      if (in >> t) return t;
      return std::nullopt;
    }
    in.ignore(1 << 16, '\n');
  }
  return std::nullopt;
}

double openDescriptors() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  double n = 0;
  while (const dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;  // the directory's own descriptor
}

}  // namespace

void addProcessMetrics() {
  static std::once_flag once;
  std::call_once(once, [] {
  auto& cpu = counter("process_cpu_seconds_total", "User and system CPU time spent in seconds").Add({});
  auto& resident = gauge("process_resident_memory_bytes", "Resident memory size in bytes").Add({});
  auto& virtual_memory = gauge("process_virtual_memory_bytes", "Virtual memory size in bytes").Add({});
  auto& open_fds = gauge("process_open_fds", "Number of open file descriptors").Add({});
  auto& max_fds = gauge("process_max_fds", "Maximum number of open file descriptors").Add({});
  auto& threads = gauge("process_threads", "Number of OS threads in the process").Add({});
  auto& start = gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds").Add({});
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  onScrape([&cpu, &resident, &virtual_memory, &open_fds, &max_fds, &threads, &start, ticks, page] {
    auto f = statFields();  // f[0] is field 3 (state): field N is f[N - 3]
    if (f.size() < 22) return;
    try {
      double used = (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime, stime
      if (used > cpu.Value()) cpu.Increment(used - cpu.Value());
      threads.Set(std::stod(f[17]));
      virtual_memory.Set(std::stod(f[20]));
      resident.Set(std::stod(f[21]) * page);
      if (auto boot = bootTime()) start.Set(*boot + std::stod(f[19]) / ticks);
    } catch (const std::exception&) {
      return;  // a /proc we cannot read leaves the last values
    }
    open_fds.Set(openDescriptors());
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds.Set(static_cast<double>(limit.rlim_cur));
  });
  });
}

}  // namespace osago::metrics
