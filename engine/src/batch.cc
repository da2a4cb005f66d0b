// The batch path's fixed worker pool. Standard mutexes (not Abseil's) so ThreadSanitizer, which
// cannot see inside Debian's uninstrumented Abseil, checks the synchronization too. A batch is cut into chunks that the workers and the calling
// thread take in turn; each thread decides with its own Evaluator, writing into the caller's
// output at the contact's own index, so the order is the input order whoever decides what.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
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
    const PreparedOutreach* outreach;
    const std::vector<std::string_view>* contacts;
    std::vector<Decision>* out;
    std::atomic<size_t> next{0};
    size_t chunks = 0;
    size_t done = 0;   // guarded by mu: chunks decided
    int workers = 0;   // guarded by mu: pool threads still holding this task
  };

  std::mutex mu;
  std::condition_variable work_ready;  // a task was queued, or the pool is stopping
  std::condition_variable task_done;   // a task's chunks or workers changed
  std::deque<Task*> queue;  // guarded by mu: tasks with chunks left to take
  bool stopping = false;    // guarded by mu
  std::vector<std::thread> threads;

  // Takes and decides chunks of `task` until none are left; returns how many it finished.
  static size_t Work(Task& task, Evaluator& evaluator) {
    size_t finished = 0;
    const size_t n = task.contacts->size();
    for (;;) {
      const size_t chunk = task.next.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= task.chunks) return finished;
      const size_t end = std::min(n, (chunk + 1) * kChunk);
      for (size_t i = chunk * kChunk; i < end; ++i) {
        (*task.out)[i] = evaluator.Decide(*task.outreach, (*task.contacts)[i]);
      }
      ++finished;
    }
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
  if (threads <= 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
  for (int i = 0; i < threads; ++i) pool_->threads.emplace_back([p = pool_.get()] { p->WorkerLoop(); });
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

void BatchEvaluator::Decide(const PreparedOutreach& outreach, const std::vector<std::string_view>& contacts,
                            std::vector<Decision>& out) {
  out.resize(contacts.size());
  if (contacts.empty()) return;
  Pool::Task task;
  task.outreach = &outreach;
  task.contacts = &contacts;
  task.out = &out;
  task.chunks = (contacts.size() + kChunk - 1) / kChunk;
  thread_local Evaluator evaluator;
  if (task.chunks > 1) {
    {
      std::lock_guard lock(pool_->mu);
      pool_->queue.push_back(&task);
    }
    pool_->work_ready.notify_all();
  }
  const size_t mine = Pool::Work(task, evaluator);
  std::unique_lock lock(pool_->mu);
  task.done += mine;
  // The task lives on this stack frame: wait until every chunk is decided and no worker holds
  // it; removing it from the queue under the same lock keeps new workers away.
  pool_->task_done.wait(lock, [&task] { return task.done == task.chunks && task.workers == 0; });
  auto it = std::find(pool_->queue.begin(), pool_->queue.end(), &task);
  if (it != pool_->queue.end()) pool_->queue.erase(it);
}

}  // namespace lawful
