// Threads that run the steps of one fused call together, at batch 1.
//
// At batch 1 a step's recurrent product is one row times an (H, N) matrix: 16K-1M
// multiply-adds, bound by the bandwidth of one core's L2 (the matrix does not fit in L1).
// Two cores read half the matrix each, but forking threads at every step
// (at::parallel_for) costs about what the product takes. So a fused call forks once and
// every thread of the team runs the whole recurrence on its own block of hidden units:
// the columns of every gate block that belong to its units, then the pointwise update of
// those units, then a barrier (the next step's product reads every unit). Each output is
// computed by one thread in the serial order, so results do not depend on the team size.
//
// Measured on a 2-core AMD EPYC (Zen 4) VM, H=128 (196 KB of weights a step), T=1000:
// 1.4 us a step with a team of two against 2.3 us on one core. A scratch comparison in one
// process found handing the second half of each product to a helper, with the update on
// one thread, 7% slower than this: the update stays serial and every step crosses between
// the cores twice instead of once.
#pragma once

#include <ATen/Parallel.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

namespace grukit {

// Spins while waiting for another core, then yields: when there are more runnable threads
// than cores (two test workers, a busy machine) the thread waited for may need this core.
class Backoff {
 public:
  void pause() {
    if (++spins_ >= kSpins) return std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }

 private:
  static constexpr int kSpins = 4096;  // ~50 us of pause on current cores
  int spins_ = 0;
};

// How long a team's caller waits for the other threads to join, in microseconds (10 ms).
// Waiting is only worth it for a thread the pool is about to start; a thread the machine
// has no core for joins late, and the call then runs alone rather than wait for it. Tests
// raise it (set_team_join_wait_us) so that a busy machine cannot keep a team from forming
// where they assert that one did.
inline std::atomic<int64_t>& team_join_wait_us() {
  static std::atomic<int64_t> us{10000};
  return us;
}

class Team {
 public:
  static constexpr int kMaxParts = 8;

  explicit Team(int threads) : threads_(std::clamp(threads, 1, kMaxParts)) {}

  int threads() const { return threads_; }
  int parts() const { return parts_.load(std::memory_order_acquire); }

  // The caller (thread 0): wait briefly (team_join_wait_us) for the other threads to join,
  // then fix the team. A thread that has not joined by then is shut out; the team is whoever
  // joined (the caller alone, if no other thread showed up: a pool that runs tasks one
  // after another).
  void gather() {
    const auto deadline = std::chrono::steady_clock::now() +
        std::chrono::microseconds(team_join_wait_us().load(std::memory_order_relaxed));
    int parts = 1;
    for (int thread = 1; thread < threads_; ++thread) {
      std::atomic<int>& state = joins_[thread].state;
      Backoff backoff;
      while (state.load(std::memory_order_acquire) == kPending &&
             std::chrono::steady_clock::now() < deadline)
        backoff.pause();
      int pending = kPending;
      state.compare_exchange_strong(pending, kShutOut, std::memory_order_acq_rel);
      // Final now: joined, or shut out (here, or by skip() for a pool thread that was
      // given several indices and stands for the first only).
      if (state.load(std::memory_order_acquire) == kJoined) joins_[thread].part = parts++;
    }
    parts_.store(parts, std::memory_order_release);
  }

  // Another thread: its part, or -1 when it came too late.
  int join(int thread) {
    int pending = kPending;
    if (!joins_[thread].state.compare_exchange_strong(pending, kJoined, std::memory_order_acq_rel))
      return -1;
    Backoff backoff;
    while (parts() == 0) backoff.pause();
    return joins_[thread].part;
  }

  // Shut `thread` out without waiting for it.
  void skip(int thread) {
    int pending = kPending;
    joins_[thread].state.compare_exchange_strong(pending, kShutOut, std::memory_order_acq_rel);
  }

  // Barrier: part `part` arrives for the `count`-th time and waits for every other part to
  // have arrived as often.
  void arrive_and_wait(int part, int64_t count) {
    arrivals_[part].count.store(count, std::memory_order_release);
    const int parts = parts_.load(std::memory_order_relaxed);
    Backoff backoff;
    for (int other = 0; other < parts; ++other)
      while (other != part && arrivals_[other].count.load(std::memory_order_acquire) < count &&
             !aborted_.load(std::memory_order_relaxed))
        backoff.pause();
  }

  // A member failed: nobody waits for it any more (its exception reaches the caller).
  void abort() { aborted_.store(true, std::memory_order_relaxed); }

 private:
  enum : int { kPending = 0, kJoined = 1, kShutOut = 2 };
  struct alignas(64) Join {
    std::atomic<int> state{kPending};
    int part = 0;
  };
  struct alignas(64) Arrival {  // one cache line per part: a barrier crossing moves one line
    std::atomic<int64_t> count{0};
  };

  const int threads_;
  std::atomic<int> parts_{0};
  std::atomic<bool> aborted_{false};
  Join joins_[kMaxParts];
  Arrival arrivals_[kMaxParts];
};

// One thread's place in a team (or a thread alone: no team, every unit, no barriers).
class TeamMember {
 public:
  TeamMember() = default;
  TeamMember(Team* team, int part) : team_(team), part_(part) {}

  // This member's hidden units [begin, end) of H: blocks of 16 (a cache line of floats, so
  // members never write the same line when H is a multiple of 16).
  std::pair<int64_t, int64_t> units(int64_t H) const {
    if (team_ == nullptr) return {0, H};
    constexpr int64_t kBlock = 16;
    const int64_t blocks = (H + kBlock - 1) / kBlock, parts = team_->parts();
    return {std::min(H, blocks * part_ / parts * kBlock),
            std::min(H, blocks * (part_ + 1) / parts * kBlock)};
  }

  int part() const { return part_; }

  // Wait until every member has reached this point as often as this one.
  void sync() {
    if (team_ != nullptr) team_->arrive_and_wait(part_, ++arrivals_);
  }

 private:
  Team* team_ = nullptr;
  int part_ = 0;
  int64_t arrivals_ = 0;
};

// How many calls have run with a team of two or more (a diagnostic for tests).
inline std::atomic<int64_t>& teams_formed() {
  static std::atomic<int64_t> count{0};
  return count;
}

// body(member) on each of (at most) `threads` threads, forked once; body(TeamMember())
// on this thread alone when threads < 2 or inside a parallel region already.
template <typename F>
void with_team(int threads, const F& body) {
  if (threads < 2 || at::in_parallel_region()) {
    TeamMember alone;
    return body(alone);
  }
  Team team(threads);
  at::parallel_for(0, team.threads(), 1, [&](int64_t thread, int64_t end) {
    // A pool thread given several indices stands for the first only: the rest never join.
    for (int64_t other = thread + 1; other < end; ++other) team.skip(static_cast<int>(other));
    int part = 0;
    if (thread == 0) {
      team.gather();
    } else {
      part = team.join(static_cast<int>(thread));
      if (part < 0) return;
    }
    if (thread == 0 && team.parts() > 1) teams_formed().fetch_add(1, std::memory_order_relaxed);
    TeamMember member(team.parts() > 1 ? &team : nullptr, part);
    try {
      body(member);
    } catch (...) {
      team.abort();
      throw;
    }
  });
}

}  // namespace grukit
