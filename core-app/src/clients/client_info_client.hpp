#pragma once

#include "clients/guarded_endpoint.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace osago::core {

/// Reads users' saved profiles from client-info with a short timeout behind a
/// circuit breaker. Thread-safe. Throws http::ClientError (CircuitOpenError
/// while the breaker is open) when client-info does not answer usefully.
class ClientInfoClient {
 public:
  ClientInfoClient(std::string base_url, std::chrono::milliseconds timeout, BreakerConfig breaker);

  /// The user's profile: name, birthDate, registrationRegion, vehicles[], drivers[];
  /// nullopt when client-info has none.
  std::optional<nlohmann::json> profile(const std::string& user_id);
  CircuitBreaker::State breakerState() { return endpoint_.state(); }

 private:
  std::string base_url_;
  std::chrono::milliseconds timeout_;
  GuardedEndpoint endpoint_;
};

/// Fills a quote input from `profile` where the body refers to saved data:
/// "ownerFromProfile": true → owner; "savedVehicleId": "<id>" → vehicle;
/// "savedDriverIds": ["<id>", …] → drivers. What the user typed is kept.
/// Throws http::HttpError 400 naming the field for an unknown id.
nlohmann::json fillFromProfile(nlohmann::json body, const nlohmann::json& profile);
/// Whether `body` refers to saved data at all (so client-info must be asked).
/// Throws http::HttpError 400 when ownerFromProfile is not a boolean.
bool refersToProfile(const nlohmann::json& body);
/// What is wrong with a profile client-info answered, if anything: the fields
/// fillFromProfile reads must have their types.
std::optional<std::string> profileProblem(const nlohmann::json& profile);

}  // namespace osago::core
