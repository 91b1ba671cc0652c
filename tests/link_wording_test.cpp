// The plugin's table of link-state sentences (plugin/link_wording): every note has a line in
// each mode, the split between modes is where the table says, and what a device says is
// filled in as it is.
#include "plugin/link_wording.h"

#include <gtest/gtest.h>

namespace bm6::plugin {
namespace {

using Kind = LinkLog::Note::Kind;

DeviceOptions device(bool passive) {
  DeviceOptions d;
  d.name = "van";
  d.address = DeviceAddress::bluetooth({0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff});
  d.passive = passive;
  return d;
}

TEST(LinkWording, EveryNoteHasALineInEveryMode) {
  for (const Kind kind : {Kind::kConnected, Kind::kDown, Kind::kBack, Kind::kFlapping,
                          Kind::kStable, Kind::kStillDown, Kind::kCauseChanged})
    for (const bool passive : {true, false})
      for (const bool lost : {true, false}) {
        const LinkLine line = link_line(device(passive), "why", lost, {kind});
        EXPECT_EQ(line.log.rfind("bm6 plugin: device \"van\" (AA:BB:CC:DD:EE:FF)", 0), 0u)
            << line.log;
        EXPECT_EQ(line.log.find('{'), std::string::npos) << "a field left unfilled: " << line.log;
      }
}

TEST(LinkWording, ADeviceGoingDownIsWordedByMode) {
  const LinkLog::Note down{Kind::kDown};
  const LinkLine silent = link_line(device(true), "why", false, down);
  const LinkLine lost = link_line(device(false), "why", true, down);
  const LinkLine failed = link_line(device(false), "why", false, down);
  EXPECT_EQ(silent.severity, Severity::kWarning);
  EXPECT_EQ(lost.severity, Severity::kWarning);
  EXPECT_EQ(failed.severity, Severity::kError);
  EXPECT_NE(silent.log, lost.log);
  EXPECT_NE(lost.log, failed.log);
  for (const LinkLine* l : {&silent, &lost, &failed}) {
    EXPECT_NE(l->notification.find("why"), std::string::npos) << l->notification;
    EXPECT_EQ(l->notification.rfind("BM6 \"van\" (AA:BB:CC:DD:EE:FF) ", 0), 0u);
  }
  // A passive device is not lost: the lost flag does not change its line.
  EXPECT_EQ(link_line(device(true), "why", true, down).log, silent.log);
}

TEST(LinkWording, WhatADeviceSaysIsNotFilledInAgain) {
  const LinkLine line = link_line(device(false), "{cause} {name} 100%", false, {Kind::kDown});
  EXPECT_NE(line.log.find(": {cause} {name} 100%;"), std::string::npos) << line.log;
}

TEST(LinkWording, SummariesSayTheirFigures) {
  LinkLog::Note note{Kind::kFlapping};
  note.losses = 7;
  note.over = std::chrono::minutes(12);
  note.next_summary = std::chrono::minutes(4);
  note.up = false;
  const LinkLine line = link_line(device(false), "gone", true, note);
  EXPECT_NE(line.log.find("link lost 7 times in the last 12 min"), std::string::npos) << line.log;
  EXPECT_NE(line.log.find("(down now: gone)"), std::string::npos) << line.log;
  EXPECT_NE(line.log.find("next summary in 4 min"), std::string::npos) << line.log;
  EXPECT_TRUE(line.notification.empty());
}

}  // namespace
}  // namespace bm6::plugin
