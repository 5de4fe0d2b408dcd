// Unit test of the plugin's mapping with the SDK's fake host: no network.
#include <osago/plugin_testing/fake_host.hpp>

#include <gtest/gtest.h>

extern "C" const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t);

TEST(HelloInsurer, SubmitsThenReadsTheOffer) {
  osago::testing::FakeHost host;
  host.secrets["apiKey"] = "k";
  osago::testing::PluginUnderTest plugin(osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR), host,
                                         {{"baseUrl", "http://partner"}});

  host.respond(201, R"({"applicationId":"a-1"})");
  auto submitted = plugin.submit({{"v", 1}});
  EXPECT_EQ(submitted.reply["outcome"], "PENDING");
  EXPECT_EQ(host.requests[0].header("X-Api-Key"), "k");

  host.respond(200, R"({"status":"offer","offerId":"o-1","premium":{"amount":"9876.54","currency":"RUB"}})");
  auto offered = plugin.poll("a-1");
  EXPECT_EQ(offered.reply["offer"]["premium"]["amount"], "9876.54");

  host.respond(200, R"({"status":"offer","premium":{"amount":"lots"}})");
  EXPECT_EQ(plugin.poll("a-1").status, OSAGO_STATUS_PERMANENT);
}
