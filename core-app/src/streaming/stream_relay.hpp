#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace osago::core {

/// The request as the browser sees it: the aggregator's view without internal fields.
nlohmann::json publicView(const nlohmann::json& view);

/// The seq a reconnecting client says it has shown (Last-Event-ID, ?lastEventId,
/// ?fromSeq): at most 18 decimal digits; anything else (empty, negative, signs,
/// spaces, too long) is -1, "nothing yet", and the stream starts with a snapshot.
long long resumeSeq(const std::string& text);

/// A live event from Kafka as every stream shares it: read once, serialised once.
struct LiveEvent {
  long long seq = 0;
  bool completes_request = false;  ///< requestStatus is COMPLETED
  const char* type = "company";    ///< the stream message's type: "company", or "purchase" (quote.purchase-status)
  std::string data;                ///< the event as JSON text

  static std::shared_ptr<const LiveEvent> from(const nlohmann::json& event);
};

/// The stored state of a request, as read from the aggregator for one or many streams.
struct StoredState {
  std::string user_id;
  long long last_seq = 0;
  bool finished = false;
  std::string data;  ///< publicView() as JSON text

  static std::shared_ptr<const StoredState> from(const nlohmann::json& view);
};

/// What a stream sends: "snapshot", "company" or "end" with the seq it
/// stands for, or a keep-alive (type empty, data = a note).
struct StreamMessage {
  std::string type;
  long long seq = 0;
  std::string data;
};

/// The delivery rule of one stream, without I/O: first what the client missed
/// (a snapshot of the stored state when it is ahead of `sent`), then live
/// events strictly in seq order, never one twice; events that arrive ahead of
/// a missing one wait, and a gap that does not fill — or a long silence — asks
/// for the stored state again. Ends when the request is final or the token expires.
class StreamRelay {
 public:
  using Steady = std::chrono::steady_clock;
  using Wall = std::chrono::system_clock;
  enum class Due { Nothing, Reconcile };

  StreamRelay(long long sent, Wall::time_point token_expires_at, Steady::time_point now);

  /// The first stored state, read after the stream subscribed; events that came before are held.
  void start(const StoredState& state, Steady::time_point now, std::vector<StreamMessage>& out);
  void event(const std::shared_ptr<const LiveEvent>& event, Steady::time_point now, std::vector<StreamMessage>& out);
  /// A fresh stored state (asked for by this or another stream of the request).
  void reconciled(const StoredState& state, Steady::time_point now, std::vector<StreamMessage>& out);
  /// The stored state could not be read: keep the client informed, try again after another silence.
  void reconcileFailed(Steady::time_point now, std::vector<StreamMessage>& out);
  /// The request is no longer stored (or is not this user's): the stream ends.
  void gone(std::vector<StreamMessage>& out) { end("NOT_FOUND", out); }
  /// Timers: token expiry ends the stream; a stuck gap or a silence asks for the stored state.
  Due tick(Wall::time_point wall_now, Steady::time_point now, std::chrono::milliseconds heartbeat,
           std::chrono::milliseconds gap_wait, std::vector<StreamMessage>& out);

  bool started() const { return started_; }
  bool ended() const { return ended_; }

 private:
  void snapshotIfNewer(const StoredState& state, std::vector<StreamMessage>& out);
  void drain(Steady::time_point now, std::vector<StreamMessage>& out);
  void end(const std::string& reason, std::vector<StreamMessage>& out);

  long long sent_;
  Wall::time_point expires_at_;
  bool started_ = false;
  bool ended_ = false;
  bool reconciling_ = false;
  std::map<long long, std::shared_ptr<const LiveEvent>> held_;
  Steady::time_point last_activity_;
  Steady::time_point held_since_ = Steady::time_point::max();
};

}  // namespace osago::core
