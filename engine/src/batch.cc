// The batch path's fixed worker pool. Standard mutexes (not Abseil's) so ThreadSanitizer, which
// cannot see inside Debian's uninstrumented Abseil, checks the synchronization too. A batch is
// cut into chunks that the workers and the calling thread take in turn; each thread decides with
// its own Evaluator, writing into the caller's output at the contact's own index, so the order is
// the input order whoever decides what.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "lawful/engine.h"

namespace lawful {

namespace {
// Big enough to amortize taking a chunk, small enough to balance two cores on a 10,000 batch.
constexpr size_t kChunk = 256;
}  // namespace

struct BatchEvaluator::Pool {
  struct Task {
    // Runs chunk `chunk` with the running thread's evaluator.
    const std::function<void(size_t chunk, Evaluator& evaluator)>* run = nullptr;
    std::atomic<size_t> next{0};
    size_t chunks = 0;
    size_t done = 0;  // guarded by mu: chunks run
    int workers = 0;  // guarded by mu: pool threads still holding this task
  };

  std::mutex mu;
  std::condition_variable work_ready;  // a task was queued, or the pool is stopping
  std::condition_variable task_done;   // a task's chunks or workers changed
  std::deque<Task*> queue;             // guarded by mu: tasks with chunks left to take
  bool stopping = false;               // guarded by mu
  std::vector<std::thread> threads;

  // Takes and runs chunks of `task` until none are left; returns how many it finished.
  static size_t Work(Task& task, Evaluator& evaluator) {
    size_t finished = 0;
    for (;;) {
      const size_t chunk = task.next.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= task.chunks) return finished;
      (*task.run)(chunk, evaluator);
      ++finished;
    }
  }

  // Runs `chunks` chunks on the workers and the calling thread; returns when all are done.
  void Run(size_t chunks, const std::function<void(size_t, Evaluator&)>& run) {
    if (chunks == 0) return;
    Task task;
    task.run = &run;
    task.chunks = chunks;
    thread_local Evaluator evaluator;
    if (task.chunks > 1) {
      {
        std::lock_guard lock(mu);
        queue.push_back(&task);
      }
      work_ready.notify_all();
    }
    const size_t mine = Work(task, evaluator);
    std::unique_lock lock(mu);
    task.done += mine;
    // The task lives on this stack frame: wait until every chunk is done and no worker holds
    // it; removing it from the queue under the same lock keeps new workers away.
    task_done.wait(lock, [&task] { return task.done == task.chunks && task.workers == 0; });
    auto it = std::find(queue.begin(), queue.end(), &task);
    if (it != queue.end()) queue.erase(it);
  }

  void WorkerLoop() {
    Evaluator evaluator;
    for (;;) {
      Task* task = nullptr;
      {
        std::unique_lock lock(mu);
        work_ready.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping
        task = queue.front();
        // A task whose chunks are all taken leaves the queue; its owner waits for `done`.
        if (task->next.load(std::memory_order_relaxed) >= task->chunks) {
          queue.pop_front();
          continue;
        }
        ++task->workers;
      }
      const size_t finished = Work(*task, evaluator);
      {
        std::lock_guard lock(mu);
        task->done += finished;
        --task->workers;
      }
      task_done.notify_all();
    }
  }
};

BatchEvaluator::BatchEvaluator(int threads) : pool_(std::make_unique<Pool>()) {
  if (threads <= 0)
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
  for (int i = 0; i < threads; ++i)
    pool_->threads.emplace_back([p = pool_.get()] { p->WorkerLoop(); });
}

BatchEvaluator::~BatchEvaluator() {
  {
    std::lock_guard lock(pool_->mu);
    pool_->stopping = true;
    pool_->queue.clear();
  }
  pool_->work_ready.notify_all();
  for (std::thread& t : pool_->threads) t.join();
}

int BatchEvaluator::workers() const { return static_cast<int>(pool_->threads.size()); }

void BatchEvaluator::Decide(const PreparedOutreach& outreach,
                            const std::vector<std::string_view>& contacts,
                            std::vector<Decision>& out) {
  out.resize(contacts.size());
  const size_t n = contacts.size();
  pool_->Run((n + kChunk - 1) / kChunk, [&](size_t chunk, Evaluator& evaluator) {
    const size_t end = std::min(n, (chunk + 1) * kChunk);
    for (size_t i = chunk * kChunk; i < end; ++i) out[i] = evaluator.Decide(outreach, contacts[i]);
  });
}

void BatchEvaluator::ParallelFor(size_t n, size_t grain,
                                 const std::function<void(size_t, size_t)>& body) {
  grain = std::max<size_t>(grain, 1);
  pool_->Run((n + grain - 1) / grain, [&](size_t chunk, Evaluator&) {
    body(chunk * grain, std::min(n, (chunk + 1) * grain));
  });
}

}  // namespace lawful
