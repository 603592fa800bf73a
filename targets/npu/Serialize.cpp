//===- Serialize.cpp - npu programs to the binary command stream ----------===//
//
// Each npu op is one command (machine/CommandStream.h); a program's
// segments bind, by name, to its entry point's arguments once weights are
// arguments (moe-weights-to-arguments), and the module becomes one image
// (machine/NpuImage.h) in the order of `moec.entries`.
//
//===----------------------------------------------------------------------===//

#include "NpuTarget.h"

#include "IR/NpuOps.h"
#include "machine/CommandStream.h"
#include "moec/Runtime/BinaryAbi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec;
using namespace moec::npu;

namespace {
class StreamWriter {
public:
  LogicalResult write(Block &block, std::vector<Command> &out);

private:
  static void setOperands(Command &command, ArrayRef<int64_t> args,
                          ArrayRef<int64_t> regs, unsigned first) {
    for (size_t i = 0; i < args.size(); ++i) {
      command.arg[first + i] = args[i];
      command.reg[first + i] = uint8_t(regs[i]);
    }
  }
};
} // namespace

LogicalResult StreamWriter::write(Block &block, std::vector<Command> &out) {
  for (Operation &op : block) {
    Command command;
    LogicalResult result =
        llvm::TypeSwitch<Operation *, LogicalResult>(&op)
            .Case([&](ScalarOp scalar) {
              command.opcode =
                  lookupCommandKind("scalar", scalar.getKind())->opcode;
              command.arg[0] = int64_t(scalar.getRd());
              if (scalar.getSpace())
                command.dtype = uint8_t(*parseSpace(*scalar.getSpace()));
              setOperands(command, scalar.getArgs(), scalar.getRegs(), 1);
              out.push_back(command);
              return success();
            })
            .Case([&](LoopOp loop) {
              command.opcode = Opcode::LOOP_BEGIN;
              command.arg[0] = int64_t(loop.getRd());
              setOperands(command, loop.getArgs(), loop.getRegs(), 1);
              out.push_back(command);
              if (failed(write(loop.getBody().front(), out)))
                return failure();
              Command end;
              end.opcode = Opcode::LOOP_END;
              out.push_back(end);
              return success();
            })
            .Case([&](SetFlagOp flag) {
              command.opcode = Opcode::SET_FLAG;
              command.arg[0] = int64_t(*parsePipe(flag.getSrc()));
              command.arg[1] = int64_t(*parsePipe(flag.getDst()));
              command.arg[2] = int64_t(flag.getEvent());
              out.push_back(command);
              return success();
            })
            .Case([&](WaitFlagOp flag) {
              command.opcode = Opcode::WAIT_FLAG;
              command.arg[0] = int64_t(*parsePipe(flag.getSrc()));
              command.arg[1] = int64_t(*parsePipe(flag.getDst()));
              command.arg[2] = int64_t(flag.getEvent());
              out.push_back(command);
              return success();
            })
            .Case([&](BarrierAllOp) {
              command.opcode = Opcode::BARRIER_ALL;
              out.push_back(command);
              return success();
            })
            .Case([&](DmaOp dma) {
              command.opcode = lookupCommandKind("dma", dma.getKind())->opcode;
              command.dtype = uint8_t((uint8_t(*parseSpace(dma.getTo())) << 4) |
                                      uint8_t(*parseSpace(dma.getFrom())));
              if (dma.getElem())
                command.flags = uint8_t(*parseElemType(*dma.getElem()));
              if (dma.getAccumulate())
                command.flags |= 1;
              if (dma.getTransposed())
                command.flags |= 16;
              setOperands(command, dma.getArgs(), dma.getRegs(), 0);
              out.push_back(command);
              return success();
            })
            .Case([&](MmadOp mmad) {
              command.opcode = Opcode::MMAD;
              command.dtype = uint8_t(*parseElemType(mmad.getElem()));
              command.flags = mmad.getAccumulate() ? 1 : 0;
              setOperands(command, mmad.getArgs(), mmad.getRegs(), 0);
              out.push_back(command);
              return success();
            })
            .Case([&](VectorOp vec) {
              command.opcode =
                  lookupCommandKind("vector", vec.getKind())->opcode;
              command.dtype = uint8_t(*parseElemType(vec.getElem()));
              if (vec.getSrc1() == "row_scalar")
                command.flags |= 1;
              if (vec.getSrc1() == "imm")
                command.flags |= 2;
              if (vec.getSignedInt4())
                command.flags |= 4;
              if (vec.getFrom())
                command.flags |= uint8_t(*parseElemType(*vec.getFrom())) << 4;
              setOperands(command, vec.getArgs(), vec.getRegs(), 0);
              out.push_back(command);
              return success();
            })
            .Default([&](Operation *other) {
              return other->emitError("is not an NPU command");
            });
    if (failed(result))
      return failure();
  }
  return success();
}

/// The index of `run`'s operand `index` among the entry's arguments.
static FailureOr<int64_t> argumentOf(RunOp run, int64_t index) {
  if (index < 0 || index >= int64_t(run.getNumOperands()))
    return run.emitError("has no operand ") << index;
  auto arg = dyn_cast<BlockArgument>(run.getOperand(index));
  if (!arg)
    return run.emitError("operand ")
           << index << " is not an argument of the entry point";
  return int64_t(arg.getArgNumber());
}

static ImageTensor describe(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  ImageTensor t;
  t.elemBytes = std::max<unsigned>(1, tensor.getElementTypeBitWidth() / 8);
  for (int64_t d : tensor.getShape())
    t.dims.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return t;
}

/// The program's host records: scalar nodes, checks, output rows.
static LogicalResult readHostRecords(ProgramOp program, ImageBucket &bucket) {
  if (auto words = program.getScalars()) {
    if (words->size() % 5)
      return program.emitError("scalars: five words per node");
    for (size_t i = 0; i < words->size(); i += 5)
      bucket.scalars.push_back({ScalarKind((*words)[i]), (*words)[i + 1],
                                (*words)[i + 2], (*words)[i + 3],
                                (*words)[i + 4]});
  }
  if (auto checks = program.getChecks()) {
    for (Attribute attr : *checks) {
      auto dict = dyn_cast<DictionaryAttr>(attr);
      auto message = dict ? dict.getAs<StringAttr>("message") : nullptr;
      if (!message)
        return program.emitError("checks: each is a dictionary with a "
                                 "message");
      ImageCheck check;
      check.message = message.str();
      auto integer = [&](StringRef name, int64_t &value) {
        if (auto attr = dict.getAs<IntegerAttr>(name))
          value = attr.getInt();
      };
      integer("condition", check.condition);
      integer("input", check.input);
      integer("lo", check.lo);
      integer("hi", check.hi);
      if (auto values = dict.getAs<DenseI64ArrayAttr>("values"))
        check.values.assign(values.asArrayRef().begin(),
                            values.asArrayRef().end());
      bucket.checks.push_back(std::move(check));
    }
  }
  if (auto rows = program.getOutputRows())
    bucket.outputRows.assign(rows->begin(), rows->end());
  if (auto phases = program.getPhases())
    for (Attribute phase : *phases)
      bucket.phases.push_back(cast<StringAttr>(phase).str());
  return success();
}

FailureOr<NpuImage> moec::npu::buildImage(ModuleOp module,
                                          llvm::StringRef chipText) {
  NpuImage image;
  image.chipText = chipText.str();
  auto entries = module->getAttrOfType<ArrayAttr>("moec.entries");
  auto weightRecords = module->getAttrOfType<ArrayAttr>("moec.weights");
  if (!entries || !weightRecords)
    return module.emitError("the NPU module lacks moec.entries or "
                            "moec.weights");
  for (auto [index, value] : llvm::enumerate(entries)) {
    auto record = cast<DictionaryAttr>(value);
    StringRef name = record.getAs<StringAttr>("name").getValue();
    // moe-weights-to-arguments renamed entry N's function.
    auto func = module.lookupSymbol<func::FuncOp>(
        (MOEC_ABI_ENTRY_PREFIX + llvm::Twine(index)).str());
    RunOp run;
    if (func)
      func.walk([&](RunOp op) { run = op; });
    if (!run || run.getEntry() != name)
      return module.emitError("entry '") << name << "' has no npu.run";
    ImageEntry entry;
    SmallVector<StringAttr> stateNames;
    for (Attribute input : record.getAs<ArrayAttr>("inputs")) {
      auto dict = cast<DictionaryAttr>(input);
      entry.inputs.push_back(
          describe(cast<TypeAttr>(dict.get("type")).getValue()));
      stateNames.push_back(dict.getAs<StringAttr>("state"));
      if (stateNames.back())
        entry.inputs.back().state = 1;
    }
    for (int64_t index :
         record.getAs<DenseI64ArrayAttr>("weights").asArrayRef())
      entry.weights.push_back(describe(
          cast<TypeAttr>(cast<DictionaryAttr>(weightRecords[index]).get("type"))
              .getValue()));
    for (Attribute output : record.getAs<ArrayAttr>("outputs")) {
      auto dict = cast<DictionaryAttr>(output);
      entry.outputs.push_back(
          describe(cast<TypeAttr>(dict.get("type")).getValue()));
      if (auto state = dict.getAs<StringAttr>("state"))
        for (auto [i, name] : llvm::enumerate(stateNames))
          if (name == state)
            entry.outputs.back().state = int32_t(i);
    }
    for (ProgramOp programOp : module.getOps<ProgramOp>()) {
      if (programOp.getEntry() != name)
        continue;
      Program program;
      for (Operation &op : programOp.getBody().front()) {
        if (auto segmentOp = dyn_cast<SegmentOp>(op)) {
          Segment segment;
          segment.bytes = segmentOp.getBytes();
          segment.name = segmentOp.getName().str();
          StringRef kind = segmentOp.getKind();
          segment.kind = kind == "input"    ? SegmentKind::Input
                         : kind == "output" ? SegmentKind::Output
                         : kind == "weight" ? SegmentKind::Weight
                         : kind == "state"  ? SegmentKind::State
                         : kind == "call"   ? SegmentKind::Call
                                            : SegmentKind::Workspace;
          if (kind == "input" || kind == "weight" || kind == "state") {
            int64_t operand = 0;
            if (StringRef(segment.name).getAsInteger(10, operand))
              return segmentOp.emitError("names no operand of npu.run");
            FailureOr<int64_t> arg = argumentOf(run, operand);
            if (failed(arg))
              return failure();
            segment.name = std::to_string(*arg);
          }
          program.segments.push_back(segment);
        } else if (auto core = dyn_cast<CoreOp>(op)) {
          program.cores.emplace_back();
          if (failed(StreamWriter().write(core.getBody().front(),
                                          program.cores.back())))
            return failure();
        }
      }
      ImageBucket bucket;
      bucket.tokens = int64_t(programOp.getTokens());
      bucket.program = encodeProgram(program);
      if (failed(readHostRecords(programOp, bucket)))
        return failure();
      entry.buckets.push_back(std::move(bucket));
    }
    if (entry.buckets.empty())
      return module.emitError("entry '") << name << "' has no npu.program";
    image.entries.push_back(std::move(entry));
  }
  return image;
}
