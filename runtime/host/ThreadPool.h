//===- ThreadPool.h - The binary's only threads -----------------*- C++ -*-===//
//
// A fixed pool of worker threads behind one primitive, parallel_for, which
// is what generated code calls for every outermost parallel loop. The
// calling thread takes part, so a pool of N threads starts N - 1 workers.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_HOST_THREADPOOL_H
#define MOEC_RUNTIME_HOST_THREADPOOL_H

#include "moec/Runtime/BinaryAbi.h" // moec_parallel_for

namespace moec::rt {

/// Starts the pool with `threads` threads in total (>= 1). Called once,
/// before any parallel_for; without it parallel_for runs inline.
void startThreadPool(int threads);
void stopThreadPool();
/// Threads available by default: the CPUs this process may run on.
int defaultThreadCount();

} // namespace moec::rt

#endif // MOEC_RUNTIME_HOST_THREADPOOL_H
