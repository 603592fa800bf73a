//===- CudaRuntime.cpp - The CUDA binary's side of the driver -------------===//
//
// Everything the generated host code calls on the GPU, over the driver API
// reached through dlopen("libcuda.so.1"): no link-time CUDA dependency, no
// cudart. It provides
// - the mgpu* functions that MLIR's gpu-to-llvm lowering calls (module
//   load, kernel launch, stream);
// - the allocation functions behind the host code's memref.alloc
//   (finalize-memref-to-llvm's generic functions): device memory;
// - moec_cuda_memcpy, the offloaded host code's scalar and buffer copies;
// - moec_cuda_call, the wrapper of every entry: weights go to the device
//   once, the state lives there between calls, inputs go there for the
//   call, and results come back to host buffers the runtime owns.
// The driver is opened on the first use, so --help and bad input work on a
// machine without a GPU; with none, the first call exits 1 saying so.
//
//===----------------------------------------------------------------------===//

#include "moec/Runtime/BinaryAbi.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;

constexpr CUresult kSuccess = 0;
constexpr CUresult kNoDevice = 100;
constexpr CUresult kNoBinaryForGpu = 209;
constexpr CUresult kAssert = 710;
constexpr int kComputeMajor = 75, kComputeMinor = 76; // attribute numbers

/// The driver entry points this runtime uses.
struct Driver {
  CUresult (*init)(unsigned);
  CUresult (*deviceGetCount)(int *);
  CUresult (*deviceGet)(CUdevice *, int);
  CUresult (*deviceGetName)(char *, int, CUdevice);
  CUresult (*deviceGetAttribute)(int *, int, CUdevice);
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*ctxSetCurrent)(CUcontext);
  CUresult (*moduleLoadData)(CUmodule *, const void *);
  CUresult (*moduleUnload)(CUmodule);
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*streamSynchronize)(CUstream);
  CUresult (*memAlloc)(CUdeviceptr *, size_t);
  CUresult (*memFree)(CUdeviceptr);
  CUresult (*memcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*memsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*getErrorString)(CUresult, const char **);
  // Only in the tests' emulating driver: brackets a kernel run on the host.
  void (*emulatedKernel)(int);
};

/// The device chosen with --cuda-device (default 0).
int deviceOrdinal = 0;

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

const Driver &driver();

void check(CUresult result, const char *what) {
  if (result == kSuccess)
    return;
  if (result == kAssert)
    fail("a run-time check of the model failed on the GPU (the device "
         "printed its message above)");
  const char *text = nullptr;
  if (driver().getErrorString)
    driver().getErrorString(result, &text);
  fail(std::string("CUDA ") + what +
       " failed: " + (text ? text : "error " + std::to_string(result)));
}

template <typename F> void bind(void *library, F &slot, const char *name) {
  slot = reinterpret_cast<F>(dlsym(library, name));
  if (!slot)
    fail(std::string("the CUDA driver (libcuda.so.1) lacks ") + name +
         ": it is older than this binary needs");
}

const Driver &driver() {
  static Driver d = [] {
    void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library)
      fail(std::string("this binary runs on an NVIDIA GPU, and the CUDA "
                       "driver (libcuda.so.1) cannot be loaded: ") +
           dlerror());
    Driver d{};
    bind(library, d.getErrorString, "cuGetErrorString");
    bind(library, d.init, "cuInit");
    bind(library, d.deviceGetCount, "cuDeviceGetCount");
    bind(library, d.deviceGet, "cuDeviceGet");
    bind(library, d.deviceGetName, "cuDeviceGetName");
    bind(library, d.deviceGetAttribute, "cuDeviceGetAttribute");
    bind(library, d.primaryCtxRetain, "cuDevicePrimaryCtxRetain");
    bind(library, d.ctxSetCurrent, "cuCtxSetCurrent");
    bind(library, d.moduleLoadData, "cuModuleLoadData");
    bind(library, d.moduleUnload, "cuModuleUnload");
    bind(library, d.moduleGetFunction, "cuModuleGetFunction");
    bind(library, d.launchKernel, "cuLaunchKernel");
    bind(library, d.streamSynchronize, "cuStreamSynchronize");
    bind(library, d.memAlloc, "cuMemAlloc_v2");
    bind(library, d.memFree, "cuMemFree_v2");
    bind(library, d.memcpy, "cuMemcpy");
    bind(library, d.memsetD8, "cuMemsetD8_v2");
    d.emulatedKernel =
        reinterpret_cast<void (*)(int)>(dlsym(library, "moecEmulatedKernel"));
    return d;
  }();
  return d;
}

/// The driver with the chosen device's primary context current.
const Driver &context() {
  static const Driver &d = [&]() -> const Driver & {
    const Driver &d = driver();
    CUresult init = d.init(0);
    int count = 0;
    if (init == kNoDevice ||
        (init == kSuccess && d.deviceGetCount(&count) == kSuccess &&
         count == 0))
      fail("this binary runs on an NVIDIA GPU, and the CUDA driver finds "
           "no device");
    check(init, "initialisation (cuInit)");
    check(d.deviceGetCount(&count), "cuDeviceGetCount");
    if (deviceOrdinal >= count)
      fail("--cuda-device " + std::to_string(deviceOrdinal) +
           " does not exist: the driver finds " + std::to_string(count) +
           " device(s)");
    CUdevice device;
    check(d.deviceGet(&device, deviceOrdinal), "cuDeviceGet");
    CUcontext ctx;
    check(d.primaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
    check(d.ctxSetCurrent(ctx), "cuCtxSetCurrent");
    return d;
  }();
  return d;
}

/// "NAME (sm_XY)" of the chosen device.
std::string deviceDescription() {
  const Driver &d = context();
  CUdevice device;
  check(d.deviceGet(&device, deviceOrdinal), "cuDeviceGet");
  char name[256] = {0};
  int major = 0, minor = 0;
  d.deviceGetName(name, sizeof(name) - 1, device);
  d.deviceGetAttribute(&major, kComputeMajor, device);
  d.deviceGetAttribute(&minor, kComputeMinor, device);
  return std::string(name) + " (sm_" + std::to_string(major) +
         std::to_string(minor) + ")";
}

CUdeviceptr deviceAlloc(size_t bytes) {
  CUdeviceptr pointer = 0;
  CUresult result = context().memAlloc(&pointer, bytes ? bytes : 1);
  if (result != kSuccess)
    fail("cannot allocate " + std::to_string(bytes) +
         " bytes of GPU memory on " + deviceDescription());
  return pointer;
}

void copy(CUdeviceptr to, CUdeviceptr from, size_t bytes) {
  if (bytes)
    check(context().memcpy(to, from, bytes), "copy (cuMemcpy)");
}

/// A kernel module: the fatbin, loaded when its first kernel is looked up.
struct Module {
  const void *image;
  CUmodule loaded = nullptr;
  std::map<std::string, CUfunction> functions;
};

CUdeviceptr asDevice(const void *pointer) {
  return CUdeviceptr(reinterpret_cast<uintptr_t>(pointer));
}

/// Device copies that live across calls: weights (uploaded once) and the
/// state (authoritative on the device), by the host buffer they mirror.
struct Mirror {
  CUdeviceptr device;
  size_t bytes;
};
std::map<const void *, Mirror> &weightCopies() {
  static std::map<const void *, Mirror> copies;
  return copies;
}
std::map<const void *, Mirror> &stateCopies() {
  static std::map<const void *, Mirror> copies;
  return copies;
}

/// A memref descriptor: allocated, aligned, offset, sizes[rank],
/// strides[rank], as 64-bit words.
struct Descriptor {
  int64_t *words;
  int64_t rank;
  void *aligned() const { return reinterpret_cast<void *>(words[1]); }
  int64_t offset() const { return words[2]; }
  /// The first element's address.
  const uint8_t *data(size_t elementBytes) const {
    return static_cast<const uint8_t *>(aligned()) + offset() * elementBytes;
  }
  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d = 0; d < rank; ++d)
      n *= words[3 + d];
    return n;
  }
  static int64_t wordCount(int64_t rank) { return 3 + 2 * rank; }
};

/// `words` pointing at `pointer`, offset 0, same sizes and strides.
std::vector<int64_t> rebased(const Descriptor &d, int64_t pointer) {
  std::vector<int64_t> words(d.words, d.words + Descriptor::wordCount(d.rank));
  words[0] = words[1] = pointer;
  words[2] = 0;
  return words;
}

Mirror &mirror(std::map<const void *, Mirror> &copies, const void *host,
               size_t bytes) {
  auto it = copies.find(host);
  if (it != copies.end() && it->second.bytes == bytes)
    return it->second;
  if (it != copies.end())
    context().memFree(it->second.device);
  Mirror m{deviceAlloc(bytes), bytes};
  copy(m.device, asDevice(host), bytes);
  return copies[host] = m;
}
} // namespace

extern "C" {

void *mgpuModuleLoad(void *data, size_t) { return new Module{data, nullptr, {}}; }

void mgpuModuleUnload(void *module) {
  auto *m = static_cast<Module *>(module);
  if (m->loaded)
    driver().moduleUnload(m->loaded);
  delete m;
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  auto *m = static_cast<Module *>(module);
  const Driver &d = context();
  if (!m->loaded) {
    CUresult result = d.moduleLoadData(&m->loaded, m->image);
    if (result == kNoBinaryForGpu)
      fail("the binary holds no kernels that run on " + deviceDescription() +
           ": compile it with moec --cuda-archs naming this chip");
    check(result, "loading the kernels (cuModuleLoadData)");
  }
  auto it = m->functions.find(name);
  if (it != m->functions.end())
    return it->second;
  CUfunction function;
  check(d.moduleGetFunction(&function, m->loaded, name), "cuModuleGetFunction");
  return m->functions[name] = function;
}

void *mgpuStreamCreate() { return nullptr; }
void mgpuStreamDestroy(void *) {}

void mgpuStreamSynchronize(void *stream) {
  check(context().streamSynchronize(stream), "a kernel");
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void **extra, size_t) {
  check(context().launchKernel(function, unsigned(gridX), unsigned(gridY),
                               unsigned(gridZ), unsigned(blockX),
                               unsigned(blockY), unsigned(blockZ),
                               unsigned(sharedBytes), stream, params, extra),
        "a kernel launch (cuLaunchKernel)");
}

void *_mlir_memref_to_llvm_alloc(size_t bytes) {
  return reinterpret_cast<void *>(uintptr_t(deviceAlloc(bytes)));
}

// Device allocations are aligned to 256 bytes.
void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t bytes) {
  if (alignment > 256)
    fail("a buffer asks for " + std::to_string(alignment) +
         "-byte alignment; GPU allocations have 256");
  return _mlir_memref_to_llvm_alloc(bytes);
}

void _mlir_memref_to_llvm_free(void *pointer) {
  if (pointer)
    check(context().memFree(asDevice(pointer)), "freeing GPU memory");
}

void moec_cuda_memcpy(int64_t to, int64_t from, int64_t bytes) {
  if (bytes > 0)
    copy(CUdeviceptr(to), CUdeviceptr(from), size_t(bytes));
}

/// Calls `packed` (an entry that works on device buffers) on `args` (host
/// buffers), as `table` (targets/cuda/Codegen.cpp) describes them.
void moec_cuda_call(const int64_t *table, void **args,
                    void (*packed)(void **)) {
  int64_t outputs = table[0], inputs = table[1], weights = table[2];
  const int64_t *outputTable = table + 3;
  const int64_t *inputTable = outputTable + 3 * outputs;
  const int64_t *weightTable = inputTable + 3 * inputs;
  size_t at = outputs ? 1 : 0;
  std::vector<std::vector<int64_t>> device;
  device.reserve(size_t(inputs + weights));
  std::vector<void *> deviceArgs;
  if (outputs)
    deviceArgs.push_back(args[0]);
  std::vector<CUdeviceptr> callBuffers; // inputs, freed after the call
  // Per state input: its device copy and the host buffer it mirrors.
  std::vector<CUdeviceptr> stateBuffers(size_t(inputs), 0);
  std::vector<const void *> stateHosts(size_t(inputs), nullptr);
  for (int64_t i = 0; i < inputs; ++i) {
    Descriptor d{static_cast<int64_t *>(args[at++]), inputTable[3 * i]};
    size_t elementBytes = size_t(inputTable[3 * i + 1]);
    size_t bytes = size_t(d.elements()) * elementBytes;
    const void *host = d.data(elementBytes);
    CUdeviceptr buffer;
    if (inputTable[3 * i + 2]) {
      buffer = stateBuffers[size_t(i)] =
          mirror(stateCopies(), host, bytes).device;
      stateHosts[size_t(i)] = host;
    } else {
      buffer = deviceAlloc(bytes);
      copy(buffer, asDevice(host), bytes);
      callBuffers.push_back(buffer);
    }
    device.push_back(rebased(d, int64_t(buffer)));
    deviceArgs.push_back(device.back().data());
  }
  for (int64_t w = 0; w < weights; ++w) {
    Descriptor d{static_cast<int64_t *>(args[at++]), weightTable[2 * w]};
    size_t elementBytes = size_t(weightTable[2 * w + 1]);
    const void *host = d.data(elementBytes);
    CUdeviceptr buffer =
        mirror(weightCopies(), host, size_t(d.elements()) * elementBytes)
            .device;
    device.push_back(rebased(d, int64_t(buffer)));
    deviceArgs.push_back(device.back().data());
  }

  packed(deviceArgs.data());

  // Results: the state updated in place stays on the device (the host's
  // buffer is handed back); every other result comes back to a host buffer
  // the runtime frees.
  std::set<CUdeviceptr> kept(callBuffers.begin(), callBuffers.end());
  for (auto &[host, m] : stateCopies())
    kept.insert(m.device);
  for (auto &[host, m] : weightCopies())
    kept.insert(m.device);
  std::set<CUdeviceptr> toFree;
  int64_t *words = outputs ? static_cast<int64_t *>(args[0]) : nullptr;
  for (int64_t o = 0; o < outputs; ++o) {
    int64_t rank = outputTable[3 * o];
    size_t elementBytes = size_t(outputTable[3 * o + 1]);
    int64_t stateInput = outputTable[3 * o + 2];
    Descriptor d{words, rank};
    size_t bytes = size_t(d.elements()) * elementBytes;
    CUdeviceptr data = asDevice(d.data(elementBytes));
    CUdeviceptr allocated = asDevice(reinterpret_cast<void *>(words[0]));
    if (stateInput >= 0 && data == stateBuffers[size_t(stateInput)]) {
      std::vector<int64_t> back = rebased(
          d,
          int64_t(reinterpret_cast<intptr_t>(stateHosts[size_t(stateInput)])));
      std::copy(back.begin(), back.end(), words);
    } else {
      void *host = std::malloc(bytes ? bytes : 1);
      if (!host)
        fail("cannot allocate " + std::to_string(bytes) +
             " bytes for a result");
      copy(asDevice(host), data, bytes);
      if (stateInput >= 0)
        copy(stateBuffers[size_t(stateInput)], data, bytes);
      std::vector<int64_t> back =
          rebased(d, int64_t(reinterpret_cast<intptr_t>(host)));
      std::copy(back.begin(), back.end(), words);
      if (!kept.count(allocated))
        toFree.insert(allocated);
    }
    words += Descriptor::wordCount(rank);
  }
  for (CUdeviceptr buffer : toFree)
    _mlir_memref_to_llvm_free(reinterpret_cast<void *>(uintptr_t(buffer)));
  for (CUdeviceptr buffer : callBuffers)
    _mlir_memref_to_llvm_free(reinterpret_cast<void *>(uintptr_t(buffer)));
}

// Binaries built with --cuda-emulate-kernels run their kernels on the host,
// inside these brackets.
void moec_cuda_emulated_kernel(int64_t inside) {
  const Driver &d = context();
  if (!d.emulatedKernel)
    fail("this binary runs its kernels on the host (moec "
         "--cuda-emulate-kernels, for tests) and needs the tests' emulating "
         "driver");
  d.emulatedKernel(int(inside));
}

// A new session: the runtime zeroed the host's state buffers.
void moec_target_state_cleared(void) {
  for (auto &[host, m] : stateCopies())
    check(context().memsetD8(m.device, 0, m.bytes), "clearing the state");
}

int moec_target_flag(const char *flag, const char *value) {
  if (std::strcmp(flag, "--cuda-device") != 0)
    return 0;
  char *end = nullptr;
  long ordinal = value ? std::strtol(value, &end, 10) : -1;
  if (!value || *end || ordinal < 0 || ordinal > 1024) {
    std::fprintf(stderr, "error: --cuda-device takes a device number\n");
    std::exit(2);
  }
  deviceOrdinal = int(ordinal);
  return 2;
}

const char moec_target_flags_help[] =
    "  --cuda-device N      the GPU to run on (default 0); the binary needs "
    "an NVIDIA\n"
    "                       GPU of a chip it was compiled for "
    "(--cuda-archs) or newer,\n"
    "                       and its driver (libcuda.so.1)\n";

} // extern "C"
