#include "streaming/stream_relay.hpp"

namespace osago::core {

using nlohmann::json;

json publicView(const json& view) {
  json v = view;
  v.erase("userId");
  return v;
}

long long resumeSeq(const std::string& text) {
  if (text.empty() || text.size() > 18) return -1;
  long long seq = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    seq = seq * 10 + (c - '0');
  }
  return seq;
}

std::shared_ptr<const LiveEvent> LiveEvent::from(const json& event) {
  auto e = std::make_shared<LiveEvent>();
  e->seq = event.value("seq", 0LL);
  e->completes_request = event.value("requestStatus", "") == "COMPLETED";
  if (event.value("type", "") == "quote.purchase-status") e->type = "purchase";
  e->data = event.dump();
  return e;
}

std::shared_ptr<const StoredState> StoredState::from(const json& view) {
  auto s = std::make_shared<StoredState>();
  s->user_id = view.value("userId", "");
  s->last_seq = view.value("lastSeq", 0LL);
  s->finished = view.value("status", "") == "COMPLETED";
  s->data = publicView(view).dump();
  return s;
}

StreamRelay::StreamRelay(long long sent, Wall::time_point token_expires_at, Steady::time_point now)
    : sent_(sent), expires_at_(token_expires_at), last_activity_(now) {}

void StreamRelay::start(const StoredState& state, Steady::time_point now, std::vector<StreamMessage>& out) {
  started_ = true;
  last_activity_ = now;
  snapshotIfNewer(state, out);
  if (state.finished) return end("COMPLETED", out);
  held_.erase(held_.begin(), held_.upper_bound(sent_));
  drain(now, out);
}

void StreamRelay::event(const std::shared_ptr<const LiveEvent>& event, Steady::time_point now,
                        std::vector<StreamMessage>& out) {
  if (ended_ || event->seq <= sent_) return;
  held_.emplace(event->seq, event);
  if (started_) drain(now, out);
}

void StreamRelay::reconciled(const StoredState& state, Steady::time_point now, std::vector<StreamMessage>& out) {
  reconciling_ = false;
  if (!started_ || ended_) return;
  snapshotIfNewer(state, out);
  held_.erase(held_.begin(), held_.upper_bound(sent_));
  held_since_ = Steady::time_point::max();
  last_activity_ = now;
  if (state.finished) return end("COMPLETED", out);
  drain(now, out);
  out.push_back({"", 0, "keep-alive"});
}

void StreamRelay::reconcileFailed(Steady::time_point now, std::vector<StreamMessage>& out) {
  reconciling_ = false;
  if (!started_ || ended_) return;
  last_activity_ = now;
  if (!held_.empty()) held_since_ = now;
  out.push_back({"", 0, "aggregator unavailable"});
}

StreamRelay::Due StreamRelay::tick(Wall::time_point wall_now, Steady::time_point now, std::chrono::milliseconds heartbeat,
                                   std::chrono::milliseconds gap_wait, std::vector<StreamMessage>& out) {
  if (!started_ || ended_) return Due::Nothing;
  if (wall_now >= expires_at_) {
    end("TOKEN_EXPIRED", out);
    return Due::Nothing;
  }
  if (reconciling_) return Due::Nothing;
  bool gap = held_since_ != Steady::time_point::max() && now - held_since_ > gap_wait;
  bool silent = now - last_activity_ > heartbeat;
  if (!gap && !silent) return Due::Nothing;
  reconciling_ = true;
  return Due::Reconcile;
}

void StreamRelay::snapshotIfNewer(const StoredState& state, std::vector<StreamMessage>& out) {
  if (state.last_seq > sent_) {
    out.push_back({"snapshot", state.last_seq, state.data});
    sent_ = state.last_seq;
  }
}

void StreamRelay::drain(Steady::time_point now, std::vector<StreamMessage>& out) {
  while (!ended_ && !held_.empty() && held_.begin()->first == sent_ + 1) {
    auto e = std::move(held_.begin()->second);
    held_.erase(held_.begin());
    out.push_back({e->type, ++sent_, e->data});
    last_activity_ = now;
    if (e->completes_request) end("COMPLETED", out);
  }
  if (held_.empty())
    held_since_ = Steady::time_point::max();
  else if (held_since_ == Steady::time_point::max())
    held_since_ = now;
}

void StreamRelay::end(const std::string& reason, std::vector<StreamMessage>& out) {
  if (ended_) return;
  ended_ = true;
  held_.clear();
  out.push_back({"end", std::max(sent_, 0LL), json{{"reason", reason}}.dump()});
}

}  // namespace osago::core
