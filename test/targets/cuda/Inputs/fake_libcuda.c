/* A stand-in libcuda.so.1 for tests on machines without a GPU.
 *
 * It serves binaries built with `moec --target=cuda --cuda-emulate-kernels`,
 * whose kernels run as loops on the host. Device memory is memory the host
 * may touch only while an emulated kernel runs or the driver copies: every
 * allocation is mapped PROT_NONE otherwise, so a host access to a device
 * buffer (the bug the cuda target's offloading must never have) faults.
 * Kernel modules cannot be loaded: there is no PTX to run.
 *
 * FAKE_CUDA_DEVICES=0 in the environment makes it find no device.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum { kMaxBuffers = 1 << 16 };
static struct {
  void *base;
  size_t bytes;
} buffers[kMaxBuffers];
static int bufferCount;

static void protectAll(int prot) {
  for (int i = 0; i < bufferCount; ++i)
    mprotect(buffers[i].base, buffers[i].bytes, prot);
}

static size_t pages(size_t bytes) {
  return (bytes + 4095) / 4096 * 4096;
}

static int devices(void) {
  const char *count = getenv("FAKE_CUDA_DEVICES");
  return count ? atoi(count) : 1;
}

CUresult cuGetErrorString(CUresult error, const char **text) {
  *text = error == 2 ? "out of memory" : "fake driver error";
  return 0;
}
CUresult cuInit(unsigned flags) { return devices() ? 0 : 100; }
CUresult cuDeviceGetCount(int *count) {
  *count = devices();
  return 0;
}
CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return 0;
}
CUresult cuDeviceGetName(char *name, int length, int device) {
  strncpy(name, "emulated device", (size_t)length);
  return 0;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  *value = attribute == 75 ? 8 : 0;
  return 0;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
  *context = (void *)1;
  return 0;
}
CUresult cuCtxSetCurrent(void *context) { return 0; }
CUresult cuModuleLoadData(void **module, const void *image) { return 200; }
CUresult cuModuleUnload(void *module) { return 0; }
CUresult cuModuleGetFunction(void **function, void *module, const char *n) {
  return 500;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *stream, void **params, void **extra) {
  return 500;
}
CUresult cuStreamSynchronize(void *stream) { return 0; }

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  if (bufferCount == kMaxBuffers)
    return 2;
  void *base = mmap(NULL, pages(bytes), PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    return 2;
  buffers[bufferCount].base = base;
  buffers[bufferCount].bytes = pages(bytes);
  ++bufferCount;
  *pointer = (CUdeviceptr)base;
  return 0;
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
  for (int i = 0; i < bufferCount; ++i)
    if (buffers[i].base == (void *)pointer) {
      munmap(buffers[i].base, buffers[i].bytes);
      buffers[i] = buffers[--bufferCount];
      return 0;
    }
  return 1; /* not an allocation of this driver */
}

CUresult cuMemcpy(CUdeviceptr to, CUdeviceptr from, size_t bytes) {
  protectAll(PROT_READ | PROT_WRITE);
  memmove((void *)to, (const void *)from, bytes);
  protectAll(PROT_NONE);
  return 0;
}

CUresult cuMemsetD8_v2(CUdeviceptr to, unsigned char value, size_t bytes) {
  protectAll(PROT_READ | PROT_WRITE);
  memset((void *)to, value, bytes);
  protectAll(PROT_NONE);
  return 0;
}

void moecEmulatedKernel(int inside) {
  protectAll(inside ? PROT_READ | PROT_WRITE : PROT_NONE);
}
