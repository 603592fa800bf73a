//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "runtime/formats/Npy.h"

#include "runtime/formats/MappedFile.h"
#include "runtime/formats/SafeTensors.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

using namespace moec::rt;

void AlignedBuffer::Free::operator()(uint8_t *p) const { std::free(p); }

AlignedBuffer AlignedBuffer::allocate(size_t size) {
  AlignedBuffer buffer;
  size_t rounded = (size + 63) / 64 * 64;
  buffer.data.reset(
      static_cast<uint8_t *>(std::aligned_alloc(64, rounded ? rounded : 64)));
  buffer.size = size;
  return buffer;
}

namespace {
struct DescrName {
  const char *descr;
  DType dtype;
  const char *numpy;
};
const DescrName kDescrs[] = {
    {"<f4", DType::F32, "float32"}, {"<f8", DType::F64, "float64"},
    {"<f2", DType::F16, "float16"}, {"<i8", DType::I64, "int64"},
    {"<i4", DType::I32, "int32"},   {"<i2", DType::I16, "int16"},
    {"|i1", DType::I8, "int8"},     {"|u1", DType::U8, "uint8"},
    {"<u2", DType::U16, "uint16"},  {"<u4", DType::U32, "uint32"},
    {"<u8", DType::U64, "uint64"},  {"|b1", DType::Bool, "bool"},
};
} // namespace

std::string moec::rt::numpyName(DType dtype) {
  for (const DescrName &d : kDescrs)
    if (d.dtype == dtype)
      return d.numpy;
  return std::string(dtypeName(dtype));
}

/// The value of `'key': ` in a .npy header dict, up to its end.
static bool headerField(const std::string &header, const char *key,
                        std::string &value) {
  std::string quoted = std::string("'") + key + "'";
  size_t at = header.find(quoted);
  if (at == std::string::npos)
    return false;
  at = header.find(':', at + quoted.size());
  if (at == std::string::npos)
    return false;
  ++at;
  while (at < header.size() && header[at] == ' ')
    ++at;
  size_t end = at;
  if (header[at] == '(')
    end = header.find(')', at) + 1;
  else if (header[at] == '\'')
    end = header.find('\'', at + 1) + 1;
  else
    end = header.find_first_of(",}", at);
  if (end == std::string::npos || end == 0)
    return false;
  value = header.substr(at, end - at);
  return true;
}

bool moec::rt::readNpy(const std::string &path, NpyArray &array,
                       std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "'" + path + "': " + why;
    return false;
  };
  // Regular files only; their size bounds what the header may claim.
  std::optional<uint64_t> fileSize = regularFileSize(path);
  if (!fileSize)
    return fail(::access(path.c_str(), F_OK) == 0 ? "not a regular file"
                                                 : std::strerror(errno));
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return fail(std::strerror(errno));
  std::unique_ptr<FILE, int (*)(FILE *)> closer(file, std::fclose);
  unsigned char magic[8];
  if (std::fread(magic, 1, 8, file) != 8 ||
      std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return fail("not a .npy file (bad magic)");
  uint32_t headerSize = 0;
  unsigned char size[4] = {0, 0, 0, 0};
  if (magic[6] == 1) {
    if (std::fread(size, 1, 2, file) != 2)
      return fail("truncated header");
    headerSize = size[0] | size[1] << 8;
  } else if (magic[6] == 2 || magic[6] == 3) {
    if (std::fread(size, 1, 4, file) != 4)
      return fail("truncated header");
    headerSize =
        size[0] | size[1] << 8 | size[2] << 16 | uint32_t(size[3]) << 24;
  } else {
    return fail("unsupported .npy version " + std::to_string(magic[6]));
  }
  if (headerSize > (1u << 20))
    return fail("header too large");
  std::string header(headerSize, '\0');
  if (std::fread(header.data(), 1, headerSize, file) != headerSize)
    return fail("truncated header");
  std::string descr, fortran, shape;
  if (!headerField(header, "descr", descr) ||
      !headerField(header, "fortran_order", fortran) ||
      !headerField(header, "shape", shape))
    return fail("malformed header");
  if (fortran != "False")
    return fail("Fortran-order arrays are not supported (use "
                "numpy.ascontiguousarray)");
  if (descr.size() < 2 || descr.front() != '\'' || descr.back() != '\'')
    return fail("malformed descr " + descr);
  descr = descr.substr(1, descr.size() - 2);
  if (!descr.empty() && descr[0] == '=')
    descr[0] = '<';
  bool known = false;
  for (const DescrName &d : kDescrs)
    if (descr == d.descr ||
        (descr.size() == 3 && descr[0] == '<' && d.descr[0] == '|' &&
         descr.substr(1) == std::string(d.descr + 1))) {
      array.dtype = d.dtype;
      known = true;
    }
  if (!known)
    return fail("unsupported dtype '" + descr + "'");
  array.shape.clear();
  const char *p = shape.c_str() + 1;
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',')
      ++p;
    if (*p == ')' || !*p)
      break;
    char *end;
    long long dim = std::strtoll(p, &end, 10);
    if (end == p || dim < 0)
      return fail("malformed shape " + shape);
    array.shape.push_back(dim);
    p = end;
  }
  int64_t count = numElements(array.shape);
  uint64_t dataOffset = 8 + (magic[6] == 1 ? 2 : 4) + uint64_t(headerSize);
  uint64_t available = *fileSize > dataOffset ? *fileSize - dataOffset : 0;
  // Checked before allocating: the shape must fit in what the file holds.
  if (count < 0 ||
      uint64_t(count) > available / uint64_t(dtypeSize(array.dtype)))
    return fail("holds less data than its shape " + shape + " needs (" +
                std::to_string(available) + " bytes after the header)");
  size_t bytes = size_t(count) * dtypeSize(array.dtype);
  array.buffer = AlignedBuffer::allocate(bytes);
  if (std::fread(array.buffer.data.get(), 1, bytes, file) != bytes)
    return fail("holds less data than its shape " + shape + " needs");
  return true;
}

bool moec::rt::writeNpy(const std::string &path, DType dtype,
                        const std::vector<int64_t> &shape, const void *data,
                        size_t size, std::string &error) {
  const char *descr = nullptr;
  for (const DescrName &d : kDescrs)
    if (d.dtype == dtype)
      descr = d.descr;
  if (!descr) {
    error = "'" + path + "': NumPy has no dtype for " +
            std::string(dtypeName(dtype));
    return false;
  }
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i)
    dict += std::to_string(shape[i]) +
            (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  dict += "), }";
  // Pad so the data starts 64-byte aligned; the header ends with '\n'.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  // The temporary file is renamed over the output: never over a device, a
  // FIFO or a directory (as root, /dev/full would be replaced).
  if (!isReplaceable(path)) {
    error = "cannot write '" + path + "': not a regular file";
    return false;
  }
  std::string tmp = path + ".tmp";
  FILE *file = std::fopen(tmp.c_str(), "wb");
  if (!file) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  unsigned char preamble[10] = {0x93,
                                'N',
                                'U',
                                'M',
                                'P',
                                'Y',
                                1,
                                0,
                                static_cast<unsigned char>(dict.size() & 0xff),
                                static_cast<unsigned char>(dict.size() >> 8)};
  bool ok = std::fwrite(preamble, 1, 10, file) == 10 &&
            std::fwrite(dict.data(), 1, dict.size(), file) == dict.size() &&
            std::fwrite(data, 1, size, file) == size;
  ok = (std::fclose(file) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}
