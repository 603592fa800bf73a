//===- CPrintMemRef.cpp - Memref descriptors and their elements in C ------===//

#include "CPrinter.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec::c;

//===----------------------------------------------------------------------===//
// Memrefs
//===----------------------------------------------------------------------===//

std::string CPrinter::stride(Value memref, unsigned dim) {
  auto t = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (succeeded(t.getStridesAndOffset(strides, offset)) &&
      !ShapedType::isDynamic(strides[dim]))
    return std::to_string(strides[dim]);
  return name(memref) + ".strides[" + std::to_string(dim) + "]";
}

std::string CPrinter::size(Value memref, unsigned dim) {
  auto t = cast<MemRefType>(memref.getType());
  if (!t.isDynamicDim(dim))
    return std::to_string(t.getDimSize(dim));
  return name(memref) + ".sizes[" + std::to_string(dim) + "]";
}

/// An lvalue: the element of `memref` at `indices`.
std::string CPrinter::element(Value memref, ArrayRef<std::string> indices) {
  auto t = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides;
  int64_t offset = ShapedType::kDynamic;
  (void)t.getStridesAndOffset(strides, offset);
  SmallVector<std::string> terms;
  if (ShapedType::isDynamic(offset))
    terms.push_back(name(memref) + ".offset");
  else if (offset != 0)
    terms.push_back(std::to_string(offset));
  for (auto [dim, index] : llvm::enumerate(indices)) {
    std::string s = stride(memref, dim);
    if (s == "1")
      terms.push_back(index);
    else if (s != "0")
      terms.push_back(index + " * " + s);
  }
  std::string elementType = type(module, t.getElementType());
  return "((" + elementType + " *)" + name(memref) + ".aligned)[" +
         (terms.empty() ? std::string("0") : llvm::join(terms, " + ")) + "]";
}

void CPrinter::declareDescriptor(Operation *at, Value result,
                                 const std::string &allocated,
                                 const std::string &aligned,
                                 const std::string &offset,
                                 ArrayRef<std::string> sizes,
                                 ArrayRef<std::string> strides) {
  std::string n = name(result);
  line() << type(at, result.getType()) << " " << n << ";\n";
  line() << n << ".allocated = " << allocated << ";\n";
  line() << n << ".aligned = " << aligned << ";\n";
  line() << n << ".offset = " << offset << ";\n";
  for (auto [dim, s] : llvm::enumerate(sizes))
    line() << n << ".sizes[" << dim << "] = " << s << ";\n";
  for (auto [dim, s] : llvm::enumerate(strides))
    line() << n << ".strides[" << dim << "] = " << s << ";\n";
}

bool CPrinter::printMemRef(Operation *op) {
  if (!isa_and_nonnull<memref::MemRefDialect>(op->getDialect()))
    return false;
  auto names = [&](ValueRange values) {
    SmallVector<std::string> result;
    for (Value v : values)
      result.push_back(name(v));
    return result;
  };
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](memref::LoadOp load) {
        define(op, load.getResult(),
               element(load.getMemRef(), names(load.getIndices())));
      })
      .Case([&](memref::StoreOp store) {
        line() << element(store.getMemRef(), names(store.getIndices())) << " = "
               << name(store.getValueToStore()) << ";\n";
      })
      .Case([&](memref::AllocOp alloc) {
        MemRefType t = alloc.getType();
        if (!t.getLayout().isIdentity())
          return fail(op, "an allocation with a layout");
        // Sizes: static ones from the type, dynamic ones from the operands.
        SmallVector<std::string> sizes;
        unsigned dynamic = 0;
        for (int64_t dim : t.getShape())
          sizes.push_back(ShapedType::isDynamic(dim)
                              ? name(alloc.getDynamicSizes()[dynamic++])
                              : std::to_string(dim));
        // Row-major strides: the static factors multiplied here, the
        // dynamic ones in C.
        SmallVector<std::string> strides(sizes.size());
        int64_t staticProduct = 1;
        std::string dynamicProduct;
        auto product = [&] {
          if (dynamicProduct.empty())
            return std::to_string(staticProduct);
          return staticProduct == 1
                     ? dynamicProduct
                     : dynamicProduct + " * " + std::to_string(staticProduct);
        };
        for (int64_t dim = t.getRank() - 1; dim >= 0; --dim) {
          strides[dim] = product();
          if (t.isDynamicDim(dim))
            dynamicProduct +=
                (dynamicProduct.empty() ? "" : " * ") + sizes[dim];
          else
            staticProduct *= t.getDimSize(dim);
        }
        std::string count = "(uint64_t)" + product();
        std::string element = type(op, t.getElementType());
        uint64_t align =
            std::max<uint64_t>(64, alloc.getAlignment().value_or(0));
        std::string aligned = fresh();
        line() << "void *" << aligned << ";\n";
        std::string allocated = fresh();
        line() << "void *" << allocated << " = moec_alloc(" << count
               << " * sizeof(" << element << "), " << align << ", &" << aligned
               << ");\n";
        declareDescriptor(op, alloc.getResult(), allocated, aligned, "0", sizes,
                          strides);
      })
      .Case([&](memref::DeallocOp dealloc) {
        line() << "free(" << name(dealloc.getMemref()) << ".allocated);\n";
      })
      .Case([&](memref::DimOp dim) {
        std::optional<int64_t> index = dim.getConstantIndex();
        auto source = dyn_cast<MemRefType>(dim.getSource().getType());
        if (!source)
          return fail(op, "an unranked memref");
        define(op, dim.getResult(),
               index ? size(dim.getSource(), *index)
                     : name(dim.getSource()) + ".sizes[" +
                           name(dim.getIndex()) + "]");
      })
      .Case<memref::CastOp, memref::AssumeAlignmentOp>([&](Operation *) {
        if (!isa<MemRefType>(op->getResult(0).getType()) ||
            !isa<MemRefType>(op->getOperand(0).getType()))
          return fail(op, "an unranked memref");
        define(op, op->getResult(0), name(op->getOperand(0)));
      })
      .Case([&](memref::ReinterpretCastOp cast) {
        std::string source = name(cast.getSource());
        SmallVector<std::string> sizes, strides;
        for (OpFoldResult s : cast.getMixedSizes())
          sizes.push_back(folded(s));
        for (OpFoldResult s : cast.getMixedStrides())
          strides.push_back(folded(s));
        declareDescriptor(op, cast.getResult(), source + ".allocated",
                          source + ".aligned",
                          folded(cast.getMixedOffsets()[0]), sizes, strides);
      })
      .Case([&](memref::ExtractStridedMetadataOp metadata) {
        Value source = metadata.getSource();
        std::string s = name(source);
        declareDescriptor(op, metadata.getBaseBuffer(), s + ".allocated",
                          s + ".aligned", "0", {}, {});
        auto t = cast<MemRefType>(source.getType());
        SmallVector<int64_t> staticStrides;
        int64_t offset;
        if (failed(t.getStridesAndOffset(staticStrides, offset)))
          return fail(op, "a memref without strides");
        define(op, metadata.getOffset(),
               ShapedType::isDynamic(offset) ? s + ".offset"
                                             : std::to_string(offset));
        for (auto [dim, v] : llvm::enumerate(metadata.getSizes()))
          define(op, v, size(source, dim));
        for (auto [dim, v] : llvm::enumerate(metadata.getStrides()))
          define(op, v, stride(source, dim));
      })
      .Case([&](memref::ExtractAlignedPointerAsIndexOp pointer) {
        define(op, pointer.getResult(),
               "(int64_t)(uintptr_t)" + name(pointer.getSource()) + ".aligned");
      })
      .Case([&](memref::GetGlobalOp get) {
        MemRefType t = get.getType();
        std::string global =
            "(void *)" + identifier("moec_global_", get.getName());
        SmallVector<std::string> sizes, strides;
        int64_t stride = 1;
        for (int64_t dim = t.getRank() - 1; dim >= 0; --dim) {
          strides.insert(strides.begin(), std::to_string(stride));
          stride *= t.getDimSize(dim);
        }
        for (int64_t dim : t.getShape())
          sizes.push_back(std::to_string(dim));
        declareDescriptor(op, get.getResult(), global, global, "0", sizes,
                          strides);
      })
      .Case([&](memref::CopyOp copy) {
        auto t = cast<MemRefType>(copy.getSource().getType());
        SmallVector<std::string> indices;
        unsigned opened = 0;
        for (int64_t dim = 0; dim < t.getRank(); ++dim) {
          indices.push_back(fresh());
          line() << "for (int64_t " << indices.back() << " = 0; "
                 << indices.back() << " < " << size(copy.getSource(), dim)
                 << "; ++" << indices.back() << ") {\n";
          ++indent;
          ++opened;
        }
        line() << element(copy.getTarget(), indices) << " = "
               << element(copy.getSource(), indices) << ";\n";
        for (; opened; --opened) {
          --indent;
          line() << "}\n";
        }
      })
      .Default([&](Operation *o) {
        fail(o, "the op " + o->getName().getStringRef().str());
      });
  return true;
}
