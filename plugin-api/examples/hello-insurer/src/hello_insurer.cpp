// "Добрый путь" speaks a PolisNet-style API:
//   POST {baseUrl}/osago/applications            → 201 {"applicationId": "…"}
//   GET  {baseUrl}/osago/applications/{id}/offer → {"status": "pending" | "offer" | "declined", …}
// with the header X-Api-Key: <the company's apiKey secret>.
#include <osago/plugin_sdk/partner_http.hpp>
#include <osago/plugin_sdk/plugin.hpp>

namespace hello {

class HelloInsurer {
 public:
  HelloInsurer(osago::sdk::Host host, const nlohmann::json& settings)
      : host_(host),
        base_url_(osago::sdk::requiredSetting(settings, "baseUrl", "http://127.0.0.1:8090/dobry-put")),
        api_key_(host.secret("apiKey")) {}

  osago::sdk::Outcome submit(const osago::sdk::Call& call, const nlohmann::json& quote) {
    osago::sdk::HttpRequest request;
    request.method = "POST";
    request.url = base_url_ + "/osago/applications";
    request.headers = {{"Content-Type", "application/json"}, {"X-Api-Key", api_key_}};
    request.body = quote.dump();
    auto response = host_.http(call, request);
    osago::sdk::requireSuccess(response, "submit");
    auto body = osago::sdk::jsonObject(response, "submit");
    return osago::sdk::Outcome::pending(osago::sdk::requiredString(body, "applicationId", "submit"));
  }

  osago::sdk::Outcome poll(const osago::sdk::Call& call, const std::string& application_id) {
    osago::sdk::HttpRequest request;
    request.url = base_url_ + "/osago/applications/" + application_id + "/offer";
    request.headers = {{"X-Api-Key", api_key_}};
    auto response = host_.http(call, request);
    osago::sdk::requireSuccess(response, "offer");
    auto body = osago::sdk::jsonObject(response, "offer");
    // Every field through the SDK's typed readers: a wrong type is the partner's error, named.
    std::string status = osago::sdk::stringField(body, "status", "offer");
    if (status == "pending") return osago::sdk::Outcome::pending(application_id);
    if (status == "declined")
      return osago::sdk::Outcome::declined(osago::sdk::stringField(body, "reason", "offer", "DECLINED"),
                                           osago::sdk::stringField(body, "message", "offer"));
    if (status == "offer") {
      std::string amount = osago::sdk::stringField(osago::sdk::objectField(body, "premium", "offer"), "amount", "offer premium");
      if (!osago::sdk::isRublesAmount(amount))
        throw osago::sdk::PluginError(OSAGO_STATUS_PERMANENT, "offer: premium.amount is not a ruble amount");
      return osago::sdk::Outcome::offer(application_id, amount, {{"offerId", osago::sdk::stringField(body, "offerId", "offer", application_id)}});
    }
    throw osago::sdk::PluginError(OSAGO_STATUS_PERMANENT, "offer: unknown status '" + status + "'");
  }

 private:
  osago::sdk::Host host_;
  std::string base_url_;
  std::string api_key_;
};

}  // namespace hello

OSAGO_PLUGIN(hello::HelloInsurer, "hello-insurer", "Добрый путь adapter", "1.0.0")
