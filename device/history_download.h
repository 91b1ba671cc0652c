// The monitor's stored history (BM6, BM7), downloaded on a streaming link: one request, the
// framed answer collected beside the live stream (protocol/history.h), records stamped with
// estimated times. And Backfill, which a device uses to fill the gap in what was dispatched
// from that history when a link comes back.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device/bm6_link.h"
#include "protocol/family.h"
#include "protocol/history.h"
#include "transport/event_loop.h"
#include "transport/lifetime.h"

namespace bm6 {

struct HistoryResult {
  std::vector<TimedHistoryRecord> records;  // oldest first, with estimated times
  std::string error;                        // empty: the answer was complete and valid
  bool empty_answer = false;                // the monitor said it has no records (no error)
  std::chrono::milliseconds took{0};        // from the request to the end (or the failure)
  std::uint64_t notifications = 0;          // of the answer
  std::uint64_t live_frames = 0;            // live frames among them, handed to the link
  bool ok() const { return error.empty(); }
};

// The history request's page count that covers `span` of records every `period`: at least
// 1, at most 255 (one byte in the request).
//
// Backfill asks at most kMaxBackfillPages: a monitor keeps ~1,500 records (~50 h, six
// pages); more pages would only lengthen the download's bound, live readings held meanwhile.
inline constexpr std::uint8_t kMaxBackfillPages = 8;

// Whether a value at `t` can follow one at `last` in a series that rrdtool keeps: a later
// second, as collectd's rrdtool plugin files a time (rounded: 69.83 s is second 70; a tie
// at .5 counts as either).
inline bool files_after(std::chrono::system_clock::time_point t,
                        std::chrono::system_clock::time_point last) {
  using std::chrono::floor;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  return t > last + milliseconds(500) &&
         floor<seconds>(t + milliseconds(500)) > floor<seconds>(last + milliseconds(500));
}
std::uint8_t pages_for(std::chrono::seconds span, std::chrono::milliseconds period);

// One download on a link that streams, with a known family (not BM2: its history protocol is
// not implemented). Destroy it before the link. The bearer's flood guard is raised by what
// an answer holds (one notification per 16-byte block at most) for the download only. Live
// frames within the answer go to the link's live decoding; kHistorySilence without a
// notification once the answer has begun, or the overall bound, refuses it as truncated.
class HistoryDownload {
 public:
  struct Options {
    std::uint8_t pages = 1;
    // The monitor's record period: estimated times are `period` apart.
    std::chrono::milliseconds period{kHistoryPeriod};
    // The whole answer within this, or the download fails (truncated). 0: timeout_for(pages).
    // An answer that has begun fails sooner after kHistorySilence without a notification.
    std::chrono::milliseconds timeout{0};
    unsigned peer_pdu_limit = 0;  // the link's flood guard outside the download; 0: none
  };
  using Done = std::function<void(HistoryResult)>;

  // Sends the request at once. `done` runs once, from the loop (never from inside this
  // constructor or a call into the link), and may destroy the download. The destructor
  // fires nothing.
  HistoryDownload(EventLoop& loop, Bm6Link& link, Options options, Done done);
  ~HistoryDownload();
  HistoryDownload(const HistoryDownload&) = delete;
  HistoryDownload& operator=(const HistoryDownload&) = delete;

  // A bound generous for a slow link: 10 s, plus 2 s a page (a page is ~65 notifications,
  // a few connection events' worth on the air).
  static std::chrono::milliseconds timeout_for(std::uint8_t pages);

 private:
  bool on_notification(std::span<const std::uint8_t> ciphertext);
  void done_ok();  // the answer ended well: its records, stamped
  void finish(std::string error);
  void release();  // the link as it was: no tap, its own flood guard

  Bm6Link* link_;
  Options options_;
  Done done_;
  std::optional<FamilyCodec> codec_;
  HistoryParser parser_;
  bool finished_ = false;
  HistoryResult result_;
  std::chrono::steady_clock::time_point asked_;
  Timer deadline_;
  Timer silence_;  // restarted by every notification once the answer has begun
  Timer report_;   // runs `done` from the loop
  WeakSelf self_;
};

// Per device, on its loop thread: decides when a link's first reading starts a download,
// holds live readings back while it runs (so that every record goes out before them), and
// hands the records that fall after the last dispatched reading to the read callback.
class Backfill {
 public:
  struct Options {
    std::chrono::milliseconds period{kHistoryPeriod};
    std::chrono::seconds max{std::chrono::hours(48)};  // the longest gap filled
    unsigned peer_pdu_limit = 0;
    // The device's own time between readings (per-read: its read interval): a gap is
    // longer than this plus a period.
    std::chrono::milliseconds spacing{0};
  };
  // `last_dispatched`: the time of the last reading dispatched, or nullopt when unknown.
  // `deliver`: the records to dispatch, oldest first. `report`: one line per download, good
  // (true) or failed.
  struct Hooks {
    std::function<std::optional<std::chrono::system_clock::time_point>()> last_dispatched;
    std::function<void(std::vector<TimedHistoryRecord>)> deliver;
    std::function<void(bool ok, const std::string& detail)> report;
  };
  Backfill(EventLoop& loop, Options options, Hooks hooks);
  ~Backfill();

  // A live reading on `link`: false while a download runs (the reading is held back: it is
  // newer than the records to come). The link's first reading starts one if there is a gap.
  bool on_reading(Bm6Link& link);
  // Whether a link whose first reading comes within `within` may start a download: its
  // answer packs several blocks per notification given a larger ATT MTU, so such a link
  // exchanges one (a per-read link otherwise skips the exchange).
  bool may_download(std::chrono::milliseconds within) const;
  // The link is going (call before destroying it): a download on it is abandoned.
  void on_link_gone();
  bool downloading() const { return download_ != nullptr; }
  std::uint64_t downloads() const { return downloads_; }

 private:
  void on_done(HistoryResult result, std::chrono::system_clock::time_point since);

  EventLoop& loop_;
  Options options_;
  Hooks hooks_;
  std::unique_ptr<HistoryDownload> download_;
  bool link_seen_ = false;  // the current link gave its first reading
  // The gap a download was tried for (its start): never tried twice.
  std::optional<std::chrono::system_clock::time_point> tried_since_;
  std::uint64_t downloads_ = 0;
  bool said_no_history_ = false;  // a family without history (BM2) has none to ask: said once
};

}  // namespace bm6
