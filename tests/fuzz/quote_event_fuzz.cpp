// An event on the quote topic as core-app consumes it (anyone who can write to
// the topic can send one): parsed with the depth limit, checked field by
// field, de-duplicated, shared as a live event and run through a stream's
// delivery rule into SSE and WebSocket bytes. Property: no exception anywhere
// on the way; a rejected event names its problem.
#include "fuzz_support.hpp"

#include "streaming/event_hub.hpp"
#include "streaming/quote_event_consumer.hpp"
#include "streaming/stream_framing.hpp"
#include "streaming/stream_relay.hpp"

#include <osago/common/outside_json.hpp>

using namespace osago::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto event = osago::parseOutside(osago::fuzz::text(data, size));
  if (event.is_discarded()) return 0;
  if (auto problem = quoteEventProblem(event)) {
    OSAGO_FUZZ_CHECK(!problem->empty(), event.dump());
    return 0;
  }
  std::size_t written = 0;
  EventHub hub([&](const nlohmann::json& delivered) {
    auto live = LiveEvent::from(delivered);
    auto now = StreamRelay::Steady::now();
    StreamRelay relay(-1, StreamRelay::Wall::now() + std::chrono::minutes(5), now);
    StoredState state;
    state.user_id = "u";
    state.data = R"({"status":"IN_PROGRESS"})";
    std::vector<StreamMessage> out;
    relay.start(state, now, out);
    relay.event(live, now, out);
    for (const auto& m : out) written += sseMessage(m.type, m.seq, m.data).size() + wsFrame(kWsText, m.data).size();
  });
  OSAGO_FUZZ_CHECK(hub.publish(event), "a first event was taken for a duplicate");
  OSAGO_FUZZ_CHECK(written > 0, "the stream sent nothing for " + event.dump());
  return 0;
}
