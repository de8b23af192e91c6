// How long malloc_trim(0) holds up a thread that allocates meanwhile (the event loop), with
// the trim on that thread ("inline") or on another ("worker"). The heap: 400,000 blocks of
// 400-1,000 bytes, every other one freed (about 140 MiB free between live blocks, as the
// store's heap after a burst). The allocating thread mallocs and frees blocks past glibc's
// thread cache (2-5 KB), which take the arena's lock the trim holds while it works.
//   g++ -O2 -pthread bench/kube/trim_stall.cpp -o /tmp/trim_stall && /tmp/trim_stall && /tmp/trim_stall worker
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int main(int argc, char**) {
  const bool on_worker = argc > 1;
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);  // as ironboot sets it
  std::vector<void*> blocks;
  for (int i = 0; i < 400000; ++i) {
    blocks.push_back(std::malloc(400 + (i % 7) * 100));
    std::memset(blocks.back(), 1, 400);
  }
  for (std::size_t i = 0; i < blocks.size(); i += 2) std::free(blocks[i]);
  std::atomic<bool> done{false};
  double trim_ms = 0, worst_ms = 0;
  auto trim = [&] {
    const auto t0 = Clock::now();
    ::malloc_trim(0);
    trim_ms = ms_since(t0);
    done = true;
  };
  if (!on_worker) {
    trim();
    worst_ms = trim_ms;  // the thread itself was trimming
  } else {
    std::thread worker(trim);
    while (!done) {
      const auto t0 = Clock::now();
      for (int k = 0; k < 50; ++k) std::free(std::malloc(2000 + k * 64));
      worst_ms = std::max(worst_ms, ms_since(t0));
    }
    worker.join();
  }
  std::printf("%s: trim %.1f ms, longest wait of the allocating thread %.1f ms\n", on_worker ? "worker" : "inline",
              trim_ms, worst_ms);
}
