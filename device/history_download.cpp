#include "device/history_download.h"

#include <algorithm>
#include <cstdio>

namespace bm6 {

namespace {

using SysClock = std::chrono::system_clock;

// The deepest answer seen: one BM6 gave 8,192 records (a BM7 3,709, to another selector); an
// answer may hold more than the pages asked for.
constexpr std::size_t kDeepestAnswerSeen = 8192;

// The notifications of an answer, at most one per 16-byte block: the start, the records (of
// the pages asked for, or the deepest answer seen), the end, one spare.
unsigned max_blocks(std::uint8_t pages) {
  const std::size_t records =
      std::max(kHistoryRecordsPerPage * std::max<std::size_t>(pages, 1), kDeepestAnswerSeen);
  return static_cast<unsigned>(records / 4 + 3);
}

// "BM6 and BM7", for a message to a family without history.
std::string families_with_history() {
  return family_names(families_where([](const FamilyTraits& t) { return t.has_history; }), "and");
}

std::string clock_time(SysClock::time_point t) {
  const std::time_t s = SysClock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

std::uint8_t pages_for(std::chrono::seconds span, std::chrono::milliseconds period) {
  const auto p = std::max<std::int64_t>(1, period.count());
  const auto ms = std::max<std::int64_t>(0, std::chrono::milliseconds(span).count());
  // One record more than the span holds: the newest slot is anywhere in its period.
  const std::int64_t records = (ms + p - 1) / p + 1;
  const std::int64_t per_page = static_cast<std::int64_t>(kHistoryRecordsPerPage);
  return static_cast<std::uint8_t>(
      std::clamp<std::int64_t>((records + per_page - 1) / per_page, 1, 255));
}

std::chrono::milliseconds HistoryDownload::timeout_for(std::uint8_t pages) {
  return std::chrono::milliseconds(10000 + 2000 * std::max<int>(pages, 1));
}

HistoryDownload::HistoryDownload(EventLoop& loop, Bm6Link& link, Options options, Done done)
    : link_(&link),
      options_(options),
      done_(std::move(done)),
      asked_(std::chrono::steady_clock::now()),
      deadline_(loop),
      silence_(loop),
      report_(loop) {
  const auto family = link.family();
  std::optional<Block> request;
  if (family) {
    codec_.emplace(*family);
    request = codec_->history_request(options_.pages);
  }
  if (!request) {
    link_ = nullptr;  // nothing was changed on the link
    finish(family ? std::string("a ") + to_string(*family) +
                        "'s stored history is not supported (only " + families_with_history() + ")"
                  : "the monitor's family is not known yet");
    return;
  }
  // A page is ~65 notifications in a burst, where the guard expects one a second: allowed
  // for this answer only, bounded by what it can hold.
  if (options_.peer_pdu_limit != 0)
    link.set_peer_pdu_limit(options_.peer_pdu_limit + max_blocks(options_.pages));
  link.set_notification_tap(
      [this](std::span<const std::uint8_t> value) { return on_notification(value); });
  const auto timeout =
      options_.timeout.count() > 0 ? options_.timeout : timeout_for(options_.pages);
  deadline_.start(timeout, [this, timeout] {
    char text[96];
    std::snprintf(text, sizeof text, "%s within %.3g s (%llu notifications)",
                  parser_.started() ? "truncated: the answer did not end" : "no answer",
                  static_cast<double>(timeout.count()) / 1000.0,
                  static_cast<unsigned long long>(result_.notifications));
    finish(text);
  });
  const auto self = self_.ref();
  const bool written = link.write_request(*request, [this, self](const LinkError& err) {
    if (self.alive() && err) finish("writing the history request: " + err.detail);
  });
  if (self.alive() && !written) finish("the link is not streaming");
}

HistoryDownload::~HistoryDownload() { release(); }

void HistoryDownload::release() {
  if (!link_) return;
  link_->set_notification_tap(nullptr);
  if (options_.peer_pdu_limit != 0) link_->set_peer_pdu_limit(options_.peer_pdu_limit);
  link_ = nullptr;
}

bool HistoryDownload::on_notification(std::span<const std::uint8_t> ciphertext) {
  if (finished_) return false;
  Bm6Link* const link = link_;  // finish() lets go of it; live frames still go to it
  const auto plain = codec_->decrypt(ciphertext);
  // Before the answer, whatever is not its start belongs to the live stream (the command's
  // acknowledgement, a reading); once it has begun, a wrong notification refuses it.
  if (!plain) {
    if (!parser_.started()) return false;
    ++result_.notifications;
    finish(std::string("rejected: ") + to_string(HistoryRejection::kWrongLength));
    return true;
  }
  std::vector<std::size_t> live;
  const auto fed = parser_.feed(*plain, &live);
  if (parser_.started() && !finished_) {
    silence_.start(kHistorySilence, [this] {
      char text[96];
      std::snprintf(text, sizeof text,
                    "truncated: no notification for %lld s before the end (%llu notifications)",
                    static_cast<long long>(kHistorySilence.count()),
                    static_cast<unsigned long long>(result_.notifications));
      finish(text);
    });
  }
  if (fed == HistoryParser::Feed::kNotHistory) return false;  // the link decodes it
  ++result_.notifications;
  if (fed == HistoryParser::Feed::kRejected) {
    finish(std::string("rejected: ") + to_string(*parser_.rejection()));
  } else if (fed == HistoryParser::Feed::kDone) {
    done_ok();
  }
  // Readings inside the answer's notification, after it is counted (the link may run the
  // device's reading handler, which must see the download as it is now).
  result_.live_frames += live.size();
  const auto self = self_.ref();
  for (const std::size_t i : live) {
    if (!self.alive() || link == nullptr) break;
    link->take_live_frame(ciphertext.subspan(i * 16, 16));
  }
  return true;
}

void HistoryDownload::done_ok() {
  const auto decoded = parser_.finish();
  const auto& records = std::get<std::vector<HistoryRecord>>(decoded);
  result_.empty_answer = parser_.empty_answer();
  // The newest slot is stamped a second before the answer, in whole seconds (the period
  // is whole seconds too): a live reading after the download is then at least a second
  // later, the step rrdtool needs. The newest record was taken at most one period before.
  const auto now = SysClock::now();
  const auto newest = std::chrono::floor<std::chrono::seconds>(now) - std::chrono::seconds(1);
  result_.records =
      estimate_times(records, std::chrono::time_point_cast<SysClock::duration>(newest),
                     std::chrono::duration_cast<std::chrono::seconds>(options_.period));
  finish("");
}

void HistoryDownload::finish(std::string error) {
  if (finished_) return;
  finished_ = true;
  result_.error = std::move(error);
  result_.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - asked_);
  deadline_.cancel();
  silence_.cancel();
  release();  // live frames go to the live decoder again, under the usual flood guard
  report_.start(std::chrono::milliseconds(0), [this] {
    if (auto done = std::move(done_)) done(std::move(result_));  // may destroy this
  });
}

// --- Backfill ---

Backfill::Backfill(EventLoop& loop, Options options, Hooks hooks)
    : loop_(loop), options_(options), hooks_(std::move(hooks)) {}

Backfill::~Backfill() = default;

bool Backfill::may_download(std::chrono::milliseconds within) const {
  if (download_) return true;
  const auto last = hooks_.last_dispatched ? hooks_.last_dispatched() : std::nullopt;
  if (!last) return false;
  if (SysClock::now() + within - *last <= options_.period + options_.spacing) return false;
  return !(tried_since_ && *tried_since_ == *last);
}

bool Backfill::on_reading(Bm6Link& link) {
  if (download_) return false;
  if (link_seen_) return true;
  link_seen_ = true;
  const auto last = hooks_.last_dispatched ? hooks_.last_dispatched() : std::nullopt;
  if (!last) return true;  // no gap known
  const auto now = SysClock::now();
  if (now - *last <= options_.period + options_.spacing) return true;  // nothing missing
  if (tried_since_ && *tried_since_ == *last) return true;  // this gap was tried: never again
  if (const auto family = link.family(); family && !traits(*family).has_history) {
    // Detected (Model "auto"): nothing to ask, ever.
    if (!said_no_history_ && hooks_.report)
      hooks_.report(false, std::string("no backfill: a ") + to_string(*family) +
                               "'s stored history is not supported");
    said_no_history_ = true;
    return true;
  }
  tried_since_ = *last;
  const auto span =
      std::min(std::chrono::duration_cast<std::chrono::seconds>(now - *last), options_.max);
  HistoryDownload::Options o;
  o.pages = std::min(pages_for(span, options_.period), kMaxBackfillPages);
  o.period = options_.period;
  o.peer_pdu_limit = options_.peer_pdu_limit;
  ++downloads_;
  const auto since = *last;
  download_ = std::make_unique<HistoryDownload>(
      loop_, link, o, [this, since](HistoryResult r) { on_done(std::move(r), since); });
  return false;  // this reading is older than the records to come
}

void Backfill::on_link_gone() {
  download_.reset();
  link_seen_ = false;
}

void Backfill::on_done(HistoryResult result, SysClock::time_point since) {
  download_.reset();  // `result` is ours: safe
  if (!result.ok()) {
    if (hooks_.report)
      hooks_.report(false, "history download failed (" + result.error +
                               "); the gap stays unfilled, live readings go on");
    return;
  }
  if (result.empty_answer) {  // not a failure: there is nothing to fill the gap with
    if (hooks_.report)
      hooks_.report(true, "the monitor has no stored records; the gap since " + clock_time(since) +
                              " stays unfilled");
    return;
  }
  // Only what falls after the last dispatched reading, in a later second (checked again
  // where it is dispatched), and within the longest gap filled.
  const auto oldest = SysClock::now() - options_.max;
  std::vector<TimedHistoryRecord> fill;
  for (const auto& r : result.records)
    if (files_after(r.at, since) && r.at >= oldest) fill.push_back(r);
  char text[192];
  std::snprintf(text, sizeof text,
                "%zu of %zu stored records fill the gap since %s (times estimated, each within "
                "%lld s; download %lld ms, %llu notifications)",
                fill.size(), result.records.size(), clock_time(since).c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::seconds>(options_.period).count()),
                static_cast<long long>(result.took.count()),
                static_cast<unsigned long long>(result.notifications));
  if (!fill.empty() && hooks_.deliver) hooks_.deliver(std::move(fill));
  if (hooks_.report) hooks_.report(true, text);
}

}  // namespace bm6
