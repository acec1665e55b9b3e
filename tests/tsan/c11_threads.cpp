// ThreadSanitizer shim: C11 threads on POSIX threads, preloaded into the tests
// of a -DRECD_SANITIZE=thread build (LD_PRELOAD, .ci/run).
//
// librdkafka starts its threads with C11 thrd_create and locks with mtx_* and
// cnd_*. gcc 12's libtsan (and LLVM's up to 16) intercepts none of these: a
// thread so started has no TSan state and the first allocation in it crashes,
// and its locking is invisible, so every hand-off through librdkafka would read
// as a race. glibc's C11 types are its POSIX types in the same layout (mtx_t is
// a pthread_mutex_t, cnd_t a pthread_cond_t, once_flag a pthread_once_t,
// thrd_t a pthread_t), so each function here forwards to its pthread twin,
// which TSan intercepts. Not built with -fsanitize: it only forwards.
#include <pthread.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>

namespace {

// <threads.h>'s values (the header is C only).
enum { kSuccess = 0, kBusy = 1, kError = 2, kNoMem = 3, kTimedOut = 4 };
enum { kRecursive = 1 };

using ThreadStart = int (*)(void*);

struct Start {
  ThreadStart func;
  void* arg;
};

void* Trampoline(void* p) {
  const Start start = *static_cast<Start*>(p);
  std::free(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

int FromErrno(int rc) {
  if (rc == 0) return kSuccess;
  if (rc == ETIMEDOUT) return kTimedOut;
  if (rc == EBUSY) return kBusy;
  if (rc == ENOMEM || rc == EAGAIN) return kNoMem;
  return kError;
}

}  // namespace

extern "C" {

int thrd_create(pthread_t* thread, ThreadStart func, void* arg) {
  auto* start = static_cast<Start*>(std::malloc(sizeof(Start)));
  if (start == nullptr) return kNoMem;
  *start = {func, arg};
  const int rc = pthread_create(thread, nullptr, Trampoline, start);
  if (rc != 0) std::free(start);
  return FromErrno(rc);
}

int thrd_join(pthread_t thread, int* result) {
  void* value = nullptr;
  const int rc = pthread_join(thread, &value);
  if (rc == 0 && result != nullptr) *result = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return FromErrno(rc);
}

int thrd_detach(pthread_t thread) { return FromErrno(pthread_detach(thread)); }

int mtx_init(pthread_mutex_t* mutex, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & kRecursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  return FromErrno(rc);
}
int mtx_lock(pthread_mutex_t* mutex) { return FromErrno(pthread_mutex_lock(mutex)); }
int mtx_trylock(pthread_mutex_t* mutex) { return FromErrno(pthread_mutex_trylock(mutex)); }
int mtx_timedlock(pthread_mutex_t* mutex, const timespec* at) { return FromErrno(pthread_mutex_timedlock(mutex, at)); }
int mtx_unlock(pthread_mutex_t* mutex) { return FromErrno(pthread_mutex_unlock(mutex)); }
void mtx_destroy(pthread_mutex_t* mutex) { pthread_mutex_destroy(mutex); }

int cnd_init(pthread_cond_t* cond) { return FromErrno(pthread_cond_init(cond, nullptr)); }
int cnd_signal(pthread_cond_t* cond) { return FromErrno(pthread_cond_signal(cond)); }
int cnd_broadcast(pthread_cond_t* cond) { return FromErrno(pthread_cond_broadcast(cond)); }
int cnd_wait(pthread_cond_t* cond, pthread_mutex_t* mutex) { return FromErrno(pthread_cond_wait(cond, mutex)); }
int cnd_timedwait(pthread_cond_t* cond, pthread_mutex_t* mutex, const timespec* at) {
  return FromErrno(pthread_cond_timedwait(cond, mutex, at));
}
void cnd_destroy(pthread_cond_t* cond) { pthread_cond_destroy(cond); }

void call_once(pthread_once_t* flag, void (*func)()) { pthread_once(flag, func); }

}  // extern "C"
