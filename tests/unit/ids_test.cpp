// Ids: random (version 4) UUIDs in canonical form, distinct, from any thread.
#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

TEST(Ids, NewUuidsAreCanonicalVersion4AndDistinctAcrossThreads) {
  std::mutex m;
  std::set<std::string> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 5000; ++i) mine.push_back(osago::newUuid());  // crosses the 4 KiB pool many times
      std::lock_guard lock(m);
      seen.insert(mine.begin(), mine.end());
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), 20000u);
  int hex_ones = 0;
  for (const auto& id : seen) {
    ASSERT_TRUE(osago::isUuid(id)) << id;
    ASSERT_EQ(id[14], '4') << "version 4: " << id;
    ASSERT_NE(std::string("89ab").find(id[19]), std::string::npos) << "RFC 4122 variant: " << id;
    for (char c : id) hex_ones += c == 'f';
  }
  // Random hex digits: about 1/16 of the 30 free ones are 'f' (not all zero, not stuck).
  EXPECT_GT(hex_ones, 20000 * 30 / 16 * 9 / 10);
  EXPECT_LT(hex_ones, 20000 * 30 / 16 * 11 / 10);
  EXPECT_FALSE(osago::isUuid("not-a-uuid"));
}

}  // namespace

TEST(Ids, CompanyIdsAreShortLowerCaseAndUrlSafe) {
  EXPECT_TRUE(osago::isCompanyId("severny-shchit"));
  EXPECT_TRUE(osago::isCompanyId(std::string(64, 'a')));
  for (const std::string& bad : {std::string(), std::string(65, 'a'), std::string("Severny"), std::string("a/b"),
                                std::string("a b"), std::string("a%2F"), std::string("северный")})
    EXPECT_FALSE(osago::isCompanyId(bad)) << bad;
}
