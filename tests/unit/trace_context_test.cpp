// W3C traceparent as it comes from browsers and services: what is taken, what
// starts a trace of our own, and what we send on.
#include <osago/common/trace_context.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using osago::TraceContext;

const std::string kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

TEST(TraceContext, AVersion00HeaderIsTakenAndContinuedFromANewSpan) {
  auto t = TraceContext::parse("00-" + kTrace + "-00f067aa0ba902b7-01");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, kTrace);
  EXPECT_EQ(t->parent_id, "00f067aa0ba902b7");
  EXPECT_TRUE(t->sampled);
  auto next = TraceContext::continueOrStart(t->header());
  EXPECT_EQ(next.trace_id, kTrace) << "the same trace";
  EXPECT_NE(next.parent_id, t->parent_id) << "from our own span";
  EXPECT_EQ(next.header().size(), 55u);
  EXPECT_EQ(TraceContext::parse(next.header())->trace_id, kTrace) << "what we send reads back";
  EXPECT_FALSE(TraceContext::parse("00-" + kTrace + "-00f067aa0ba902b7-00")->sampled);
}

TEST(TraceContext, AFutureVersionIsReadByItsFirstFields) {
  EXPECT_TRUE(TraceContext::parse("01-" + kTrace + "-00f067aa0ba902b7-01-what-comes-next"));
  EXPECT_TRUE(TraceContext::parse("cc-" + kTrace + "-00f067aa0ba902b7-09"));
  EXPECT_FALSE(TraceContext::parse("01-" + kTrace + "-00f067aa0ba902b7-01x")) << "no dash after the flags";
}

TEST(TraceContext, WhatIsMalformedStartsATraceOfOurOwn) {
  const std::string bad[] = {
      "",
      "garbage",
      "00-" + kTrace + "-00f067aa0ba902b7-01-extra",          // version 00 has exactly four fields
      "ff-" + kTrace + "-00f067aa0ba902b7-01",                // version ff is invalid
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
      "00-" + kTrace + "-0000000000000000-01",                // all-zero parent
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
      "00-" + kTrace + "-00f067aa0ba902b7-0g",
      "00_" + kTrace + "_00f067aa0ba902b7_01",
      std::string(100000, '0'),
  };
  for (const auto& h : bad) {
    EXPECT_FALSE(TraceContext::parse(h)) << h.substr(0, 80);
    auto started = TraceContext::continueOrStart(h);
    EXPECT_TRUE(osago::isTraceId(started.trace_id));
    EXPECT_NE(started.trace_id, kTrace);
  }
}

TEST(TraceContext, FreshTracesAreDistinct) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto t = TraceContext::fresh();
    ASSERT_TRUE(TraceContext::parse(t.header())) << t.header();
    ids.insert(t.trace_id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
