//===- ThreadPool.cpp - The binary's only threads -------------------------===//
//
// One job at a time (generated code never nests parallel loops: only the
// outermost ones are outlined). A job is split into `threads * 4` ranges
// handed out through an atomic counter, so uneven iterations (experts with
// more rows) balance out; workers spin briefly before sleeping, because
// the next loop usually follows within microseconds. The spin waits with
// `pause` rather than sched_yield: on a 2-core Zen 5 VM the system call
// was 11% of int4 decode's samples, and without it decode ran 250 tok/s
// instead of 220.
//
//===----------------------------------------------------------------------===//

#include "runtime/host/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

namespace {
/// Below this many estimated operations a loop runs inline: waking the
/// pool costs a few microseconds.
constexpr int64_t kInlineCost = 1 << 15;
/// Spins of a waiting thread with `pause` before it yields, and in all
/// before it sleeps.
constexpr int kPauseSpins = 1 << 14;
constexpr int kSpins = kPauseSpins + 20000;

struct Job {
  void (*fn)(void *, int64_t, int64_t) = nullptr;
  void *context = nullptr;
  int64_t count = 0;
  int64_t chunk = 1;
  std::atomic<int64_t> next{0};
  std::atomic<int> pending{0};
};

/// Waits in a spin loop: `pause` first (no system call, so the next job
/// starts within a microsecond), then sched_yield, which lets another
/// process run where the CPUs are oversubscribed.
void relax(int spin) {
  if (spin < kPauseSpins) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
    return;
  }
  std::this_thread::yield();
}

class Pool {
public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i)
      workers.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      generation.fetch_add(1);
    }
    wake.notify_all();
    for (std::thread &worker : workers)
      worker.join();
  }
  int size() const { return int(workers.size()) + 1; }

  void run(void (*fn)(void *, int64_t, int64_t), void *context, int64_t count) {
    job.fn = fn;
    job.context = context;
    job.count = count;
    job.chunk = std::max<int64_t>(1, count / (int64_t(size()) * 4));
    job.next.store(0);
    job.pending.store(int(workers.size()));
    {
      std::lock_guard<std::mutex> lock(mutex);
      generation.fetch_add(1);
    }
    wake.notify_all();
    drain();
    // The count stops at kPauseSpins: the wait may outlast any int.
    for (int spin = 0; job.pending.load(std::memory_order_acquire) != 0;
         spin += spin < kPauseSpins)
      relax(spin);
  }

private:
  void drain() {
    for (;;) {
      int64_t begin = job.next.fetch_add(job.chunk);
      if (begin >= job.count)
        return;
      job.fn(job.context, begin, std::min(begin + job.chunk, job.count));
    }
  }
  void work() {
    uint64_t seen = 0;
    for (;;) {
      // Spin a little before sleeping: loops come in quick succession.
      for (int spin = 0; spin < kSpins && generation.load() == seen; ++spin)
        relax(spin);
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return generation.load() != seen; });
        seen = generation.load();
        if (stopping)
          return;
      }
      drain();
      job.pending.fetch_sub(1, std::memory_order_release);
    }
  }
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  bool stopping = false;
  Job job;
};

Pool *pool = nullptr;
} // namespace

void moec::rt::startThreadPool(int threads) {
  stopThreadPool();
  if (threads > 1)
    pool = new Pool(threads);
}

void moec::rt::stopThreadPool() {
  delete pool;
  pool = nullptr;
}

int moec::rt::defaultThreadCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

extern "C" void moec_parallel_for(int64_t count, int64_t cost,
                                  void (*fn)(void *, int64_t, int64_t),
                                  void *context) {
  if (count <= 0)
    return;
  if (!pool || count == 1 || count * cost < kInlineCost) {
    fn(context, 0, count);
    return;
  }
  pool->run(fn, context, count);
}
