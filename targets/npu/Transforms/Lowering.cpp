//===- Lowering.cpp - State of lowering one entry point to the NPU --------===//

#include "Transforms/Lowering.h"

using namespace mlir;
using namespace moec::npu;

const char *moec::npu::elemName(ElemType type) {
  switch (type) {
  case ElemType::F32:
    return "f32";
  case ElemType::F16:
    return "f16";
  case ElemType::BF16:
    return "bf16";
  case ElemType::I8:
    return "i8";
  case ElemType::I32:
    return "i32";
  case ElemType::U8:
    return "u8";
  }
  return "f32";
}

const char *moec::npu::spaceLower(Space space) {
  switch (space) {
  case Space::GM:
    return "gm";
  case Space::L1:
    return "l1";
  case Space::L0A:
    return "l0a";
  case Space::L0B:
    return "l0b";
  case Space::L0C:
    return "l0c";
  case Space::UB:
    return "ub";
  }
  return "gm";
}

static const char *pipeLower(Pipe pipe) {
  switch (pipe) {
  case Pipe::S:
    return "s";
  case Pipe::M:
    return "m";
  case Pipe::V:
    return "v";
  case Pipe::MTE1:
    return "mte1";
  case Pipe::MTE2:
    return "mte2";
  case Pipe::MTE3:
    return "mte3";
  }
  return "s";
}

ProgramLowering::ProgramLowering(const ChipDescription &chip, ElemType cubeType,
                                 int64_t tokens, ModuleOp module, Location loc,
                                 StringRef entry, unsigned inputCount,
                                 WeightTable &weights)
    : chip(chip), cubeType(cubeType), tokens(tokens), loc(loc),
      inputCount(inputCount), weights(weights) {
  OpBuilder builder(module.getContext());
  builder.setInsertionPointToEnd(module.getBody());
  program =
      ProgramOp::create(builder, loc, (entry + "_t" + Twine(tokens)).str(),
                        entry, tokens, nullptr, nullptr, nullptr, nullptr);
  program.getBody().emplaceBlock();
  builder.setInsertionPointToEnd(&program.getBody().front());
  workspace = SegmentOp::create(builder, loc, "workspace", "workspace", 0, "");
  segmentCount = 1;
  for (unsigned i = 0; i < chip.aiCores; ++i) {
    auto core = CoreOp::create(builder, loc, i);
    core.getBody().emplaceBlock();
    cores.push_back(std::make_unique<StreamBuilder>(core));
  }
}

uint32_t ProgramLowering::addSegment(StringRef kind, uint64_t bytes,
                                     StringRef name) {
  OpBuilder builder(workspace);
  // Segments stay before the cores, in index order.
  Operation *last = workspace;
  for (Operation &op : *workspace->getBlock())
    if (isa<SegmentOp>(op))
      last = &op;
  builder.setInsertionPointAfter(last);
  SegmentOp::create(builder, loc, (Twine(kind) + Twine(segmentCount)).str(),
                    kind, int64_t(bytes), name);
  return segmentCount++;
}

GmMatrix ProgramLowering::allocate(int64_t rows, int64_t cols, ElemType elem) {
  GmMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.elem = elem;
  workspaceBytes = (workspaceBytes + 63) / 64 * 64;
  m.address = gmAddress(0, workspaceBytes);
  workspaceBytes += m.bytes();
  return m;
}

void ProgramLowering::dropLastBarrier() {
  for (auto &core : cores) {
    Block *body = core->getBuilder().getInsertionBlock();
    assert(!body->empty() && isa<BarrierAllOp>(body->back()) &&
           "the last phase ends at a barrier");
    body->back().erase();
    // The core's own pipes still drain before its next commands issue
    // (the next phase reuses its buffers); other cores run on.
    for (const char *pipe : {"m", "v", "mte1", "mte2", "mte3"})
      core->sync(pipe, "s", 7);
  }
  phases.pop_back();
}

void ProgramLowering::finish() {
  workspace.setBytes(std::max<uint64_t>(workspaceBytes, 64));
  Builder b(program.getContext());
  program.setPhasesAttr(
      b.getStrArrayAttr(SmallVector<StringRef>(phases.begin(), phases.end())));
}

void ProgramLowering::barrier() {
  for (auto &core : cores)
    core->barrierAll();
  phases.push_back(phaseLabel);
}

FailureOr<std::string> ProgramLowering::engine(Space from, Space to) {
  const DmaPath *path = chip.findPath(from, to);
  if (!path) {
    emitError() << "chip '" << chip.name << "' has no DMA path from "
                << spaceLower(from) << " to " << spaceLower(to);
    return failure();
  }
  return std::string(pipeLower(path->engine));
}

FailureOr<UbEngines> UbEngines::get(ProgramLowering &lowering) {
  FailureOr<std::string> in = lowering.engine(Space::GM, Space::UB);
  FailureOr<std::string> out = lowering.engine(Space::UB, Space::GM);
  if (failed(in) || failed(out))
    return failure();
  return UbEngines{*in, *out};
}

std::pair<int64_t, int64_t> ProgramLowering::share(int64_t count,
                                                   unsigned i) const {
  int64_t n = coreCount();
  int64_t base = count / n, extra = count % n;
  int64_t begin = i * base + std::min<int64_t>(i, extra);
  return {begin, begin + base + (int64_t(i) < extra ? 1 : 0)};
}
