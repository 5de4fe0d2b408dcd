// What a plugin worker process writes to the host (a worker runs partner code
// and is not trusted): the byte stream split into frames and each frame read
// as the host reads its type. Properties: the only failure is
// wire::ProtocolError (the host then kills the worker); what is read is
// bounded (a known status, at most 64 headers, a timeout of at most 600 s);
// nothing buffers past one frame over the limit.
#include "fuzz_support.hpp"

#include "plugins/plugin_worker.hpp"
#include "plugins/worker_protocol.hpp"

namespace wire = osago::host::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = osago::fuzz::text(data, size);
  wire::FrameAssembler frames(4096);
  std::size_t step = bytes.empty() ? 1 : 1 + static_cast<std::uint8_t>(bytes[0]) % 61;
  try {
    for (std::size_t at = 0; at < bytes.size(); at += step) {
      auto chunk = bytes.substr(at, step);
      frames.feed(chunk.data(), chunk.size());
      wire::Frame f;
      while (frames.next(f)) {
        OSAGO_FUZZ_CHECK(f.payload.size() <= 4096, std::to_string(f.payload.size()));
        try {
          switch (f.type) {
            case wire::Type::kReady: {
              auto id = osago::host::readReady(f.payload);
              OSAGO_FUZZ_CHECK(id.abi_major >= 0 && id.abi_minor >= 0, id.id);
              break;
            }
            case wire::Type::kHttp: {
              auto ask = osago::host::readHttpAsk(f.payload);
              OSAGO_FUZZ_CHECK(ask.headers.size() <= 64 && ask.timeout_ms <= 600000, ask.url);
              break;
            }
            case wire::Type::kDone: {
              auto done = osago::host::readDone(f.payload);
              OSAGO_FUZZ_CHECK(done.status >= OSAGO_STATUS_OK && done.status <= OSAGO_STATUS_TIMEOUT, done.note);
              OSAGO_FUZZ_CHECK(done.replies >= 0 && done.denied.size() <= 64, done.note);
              break;
            }
            default: {
              wire::FrameReader r(f.payload);
              while (!r.atEnd()) (void)r.str();
            }
          }
        } catch (const wire::ProtocolError&) {
          // this frame's fields are broken: the host kills the worker
        }
      }
    }
  } catch (const wire::ProtocolError&) {
    // a frame over the limit: the host kills the worker
  }
  return 0;
}
