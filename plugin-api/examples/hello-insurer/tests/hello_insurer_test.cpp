// Unit test of the plugin's mapping with the SDK's fake host: no network.
#include <osago/plugin_testing/fake_host.hpp>

#include <gtest/gtest.h>

extern "C" const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t);

TEST(HelloInsurer, SubmitsThenReadsTheOffer) {
  osago::testing::FakeHost host;
  host.secrets["apiKey"] = "k";
  const osago_plugin_api* api = osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  void* instance = nullptr;
  ASSERT_EQ(api->create(host.api(), osago::sdk::toAbi(R"({"baseUrl":"http://partner"})"), &instance), OSAGO_STATUS_OK);

  host.respond(201, R"({"applicationId":"a-1"})");
  auto submitted = host.submit(api, instance, {{"v", 1}});
  EXPECT_EQ(submitted.reply["outcome"], "PENDING");
  EXPECT_EQ(host.requests[0].header("X-Api-Key"), "k");

  host.respond(200, R"({"status":"offer","offerId":"o-1","premium":{"amount":"9876.54","currency":"RUB"}})");
  auto offered = host.poll(api, instance, "a-1");
  EXPECT_EQ(offered.reply["offer"]["premium"]["amount"], "9876.54");

  host.respond(200, R"({"status":"offer","premium":{"amount":"lots"}})");
  EXPECT_EQ(host.poll(api, instance, "a-1").status, OSAGO_STATUS_PERMANENT);
  api->destroy(instance);
}
