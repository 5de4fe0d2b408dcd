// The pieces of a request the services read themselves: the JSON body, the
// query, the path and the bearer token. Each bad form is the client's 400,
// never the server's 500 (the fuzz target http_request found the query one).
#include <osago/common/http_server.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using osago::http::HttpError;

/// The code of the HttpError `f` throws, or "" when it throws none.
template <class F>
std::string errorCode(F&& f, int expected_status = 400) {
  try {
    f();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), expected_status) << e.what();
    return e.code();
  }
  return "";
}

TEST(HttpBody, ANumberNoDoubleHoldsIsInvalidJsonNotAServerError) {
  // nlohmann::json throws out_of_range (not parse_error) for it: that was a 500.
  EXPECT_EQ(errorCode([] { osago::http::parseJsonBody(R"({"vehicle":{"year":1e999}})"); }), "INVALID_JSON");
}

TEST(HttpBody, NestingIsBoundedAtItsLimit) {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_EQ(osago::http::parseJsonBody(nested(osago::http::kMaxBodyDepth)).size(), 1u);
  EXPECT_EQ(errorCode([&] { osago::http::parseJsonBody(nested(osago::http::kMaxBodyDepth + 1)); }), "INVALID_JSON");
  EXPECT_EQ(errorCode([&] { osago::http::parseJsonBody(nested(100000)); }), "INVALID_JSON");
}

TEST(HttpBody, EmptyAndBrokenBodiesAreNamed) {
  EXPECT_EQ(errorCode([] { osago::http::parseJsonBody(""); }), "INVALID_JSON");
  EXPECT_EQ(errorCode([] { osago::http::parseJsonBody("{\"a\":"); }), "INVALID_JSON");
  EXPECT_EQ(errorCode([] { osago::http::parseJsonBody("\"\xff\""); }), "INVALID_JSON") << "not UTF-8";
  // The parser's message quotes what it read last: the bytes that are not UTF-8
  // must not reach the answer, whose writer would throw (the client got no answer).
  try {
    osago::http::parseJsonBody("{\"make\":\"\xd0\xff\"}");
    ADD_FAILURE() << "accepted";
  } catch (const HttpError& e) {
    EXPECT_NO_THROW((void)nlohmann::json(e.what()).dump()) << "the message is not UTF-8";
  }
  EXPECT_EQ(osago::http::parseJsonBody(R"({"a":[1,"б"]})")["a"][1], "б");
}

TEST(HttpQuery, ABadPercentEscapeIsTheClients400) {
  EXPECT_EQ(errorCode([] { osago::http::queryParameter("/api/osago/requests/x/events?lastEventId=%zz", "lastEventId"); }),
            "BAD_URI");
  EXPECT_EQ(osago::http::queryParameter("/x?fromSeq=12&lastEventId=%37", "lastEventId"), "7");
  EXPECT_EQ(osago::http::queryParameter("/x?fromSeq=12", "lastEventId"), "");
}

TEST(HttpPath, AnInvalidTargetHasNoPath) {
  EXPECT_EQ(osago::http::requestPath("/osago/requests/a%20b?x=1"), "/osago/requests/a b");
  EXPECT_FALSE(osago::http::requestPath("/osago/%zz"));
}

TEST(HttpAuthorization, OnlyABearerTokenIsTaken) {
  EXPECT_EQ(osago::http::bearerToken(std::string("Bearer abc.def")), "abc.def");
  EXPECT_EQ(osago::http::bearerToken(std::string("Bearer ")), "");
  EXPECT_EQ(osago::http::bearerToken(std::string("Basic abc")), "");
  EXPECT_EQ(osago::http::bearerToken(std::string("bearer abc")), "");
}

}  // namespace
