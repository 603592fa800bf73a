// cpu-soft-half-conversions against LLVM's own conversions, which the pass
// leaves alone (llvm.fpext / llvm.fptrunc; F16C or libgcc on this machine):
// every one of the 65536 halves widened, and 2^32 / 61 floats spread over
// every exponent and mantissa narrowed (round to nearest even, overflow,
// subnormals, signed zeros), bit for bit; NaNs need only stay NaNs.
// RUN: moec-opt %s --cpu-soft-half-conversions | FileCheck %s
// RUN: moec-opt %s --cpu-soft-half-conversions --convert-scf-to-cf --convert-math-to-llvm --convert-arith-to-llvm --convert-vector-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=EXEC

// CHECK-LABEL: func @soft_extend
// CHECK-NOT: arith.extf
// CHECK: arith.mulf
// CHECK-NOT: arith.extf
func.func @soft_extend(%h: f16) -> f32 {
  %f = arith.extf %h : f16 to f32
  return %f : f32
}

// CHECK-LABEL: func @soft_truncate
// CHECK-NOT: arith.truncf
// CHECK: arith.trunci
func.func @soft_truncate(%f: f32) -> f16 {
  %h = arith.truncf %f : f32 to f16
  return %h : f16
}

// Vectors take the same patterns; bf16 takes MLIR's.
// CHECK-LABEL: func @soft_vectors
// CHECK-NOT: arith.extf
// CHECK-NOT: arith.truncf
func.func @soft_vectors(%h: vector<8xf16>, %b: vector<8xf32>) -> (vector<8xf32>, vector<8xbf16>) {
  %f = arith.extf %h : vector<8xf16> to vector<8xf32>
  %t = arith.truncf %b : vector<8xf32> to vector<8xbf16>
  return %f, %t : vector<8xf32>, vector<8xbf16>
}

func.func @same_f32(%a: f32, %b: f32) -> i1 {
  %ai = arith.bitcast %a : f32 to i32
  %bi = arith.bitcast %b : f32 to i32
  %eq = arith.cmpi eq, %ai, %bi : i32
  %an = arith.cmpf uno, %a, %a : f32
  %bn = arith.cmpf uno, %b, %b : f32
  %nans = arith.andi %an, %bn : i1
  %same = arith.ori %eq, %nans : i1
  return %same : i1
}

func.func @same_f16(%a: f16, %b: f16) -> i1 {
  %ai = arith.bitcast %a : f16 to i16
  %bi = arith.bitcast %b : f16 to i16
  %eq = arith.cmpi eq, %ai, %bi : i16
  %an = arith.cmpf uno, %a, %a : f16
  %bn = arith.cmpf uno, %b, %b : f16
  %nans = arith.andi %an, %bn : i1
  %same = arith.ori %eq, %nans : i1
  return %same : i1
}

func.func @main() {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %halves = arith.constant 65536 : i64
  %floats = arith.constant 4294967296 : i64
  %stride = arith.constant 61 : i64
  %extend = scf.for %i = %c0 to %halves step %c1 iter_args(%bad = %c0) -> i64 : i64 {
    %bits = arith.trunci %i : i64 to i16
    %h = arith.bitcast %bits : i16 to f16
    %soft = func.call @soft_extend(%h) : (f16) -> f32
    %hard = llvm.fpext %h : f16 to f32
    %same = func.call @same_f32(%soft, %hard) : (f32, f32) -> i1
    %one = arith.extui %same : i1 to i64
    %miss = arith.subi %c1, %one : i64
    %next = arith.addi %bad, %miss : i64
    scf.yield %next : i64
  }
  %truncate = scf.for %i = %c0 to %floats step %stride iter_args(%bad = %c0) -> i64 : i64 {
    %bits = arith.trunci %i : i64 to i32
    %f = arith.bitcast %bits : i32 to f32
    %soft = func.call @soft_truncate(%f) : (f32) -> f16
    %hard = llvm.fptrunc %f : f32 to f16
    %same = func.call @same_f16(%soft, %hard) : (f16, f16) -> i1
    %one = arith.extui %same : i1 to i64
    %miss = arith.subi %c1, %one : i64
    %next = arith.addi %bad, %miss : i64
    scf.yield %next : i64
  }
  // EXEC: f16 -> f32 mismatches: 0
  // EXEC: f32 -> f16 mismatches: 0
  vector.print str "f16 -> f32 mismatches: "
  vector.print %extend : i64
  vector.print str "f32 -> f16 mismatches: "
  vector.print %truncate : i64
  return
}
