# -*- Python -*-
# lit configuration for moec's regression tests.

import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "moec"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moec_obj_root, "test")
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

config.substitutions.append(("%shlibext", config.llvm_shlib_ext))
# Cross binaries run under qemu-user (docs/cross.md) where moec has the
# architecture's runtime.
for arch in ("aarch64", "riscv64"):
    triple = arch + "-linux-gnu"
    qemu = shutil.which("qemu-%s-static" % arch)
    runtime = os.path.join(config.moec_obj_root, "lib", triple,
                           "libMoecBinaryRuntime.a")
    if qemu and os.path.exists(runtime):
        config.available_features.add("cross-" + arch)
        config.substitutions.append(("%%qemu_%s" % arch,
                                     "%s -L /usr/%s" % (qemu, triple)))
config.substitutions.append(("%mlir_runner", os.path.join(
    config.llvm_tools_dir, "mlir-runner")))
config.substitutions.append(("%mlir_c_runner_utils", os.path.join(
    os.path.dirname(config.llvm_tools_dir.rstrip("/")), "lib",
    "libmlir_c_runner_utils" + config.llvm_shlib_ext)))
config.substitutions.append(("%moec_libs", os.path.join(config.moec_obj_root, "lib")))
config.substitutions.append(("%moec_obj_root", config.moec_obj_root))
config.substitutions.append(("%moec_src_root", config.moec_src_root))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
# The ONNX backend node tests from Debian's libonnx-testdata.
config.substitutions.append(("%onnx_node_tests", "/usr/share/libonnx-testdata/data/node"))
config.substitutions.append(("%make_model", "/usr/bin/python3 " + os.path.join(
    config.test_source_root, "onnx", "Inputs", "make_model.py")))

# The MoE test-model generator and the checkers of its models.
models_dir = os.path.join(config.test_source_root, "models")
config.substitutions.append(("%models_dir", models_dir))
config.substitutions.append(("%moe_models", "/usr/bin/python3 " + os.path.join(models_dir, "moe_models.py")))
config.substitutions.append(("%eval_raised", "/usr/bin/python3 " + os.path.join(models_dir, "eval_raised.py")))
config.substitutions.append(("%ort_check", "node " + os.path.join(models_dir, "ort_check.js")))
# MoE blocks as the Hugging Face modeling files write them, exported by
# Debian's python3-torch (torch.onnx.export).
config.substitutions.append(("%torch_moe", "/usr/bin/python3 " + os.path.join(models_dir, "torch_moe.py")))
if subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                  capture_output=True).returncode == 0:
    config.available_features.add("torch")
# ONNX Runtime (npm onnxruntime-node, installed by scripts/install-deps.sh).
if os.path.isdir(os.path.join(config.moec_src_root, "node_modules", "onnxruntime-node")):
    config.available_features.add("onnxruntime")
    config.environment["NODE_PATH"] = os.path.join(config.moec_src_root, "node_modules")
# Hugging Face's tokenizers.js and the tokenizer.json files (npm).
if os.path.isdir(os.path.join(config.moec_src_root, "node_modules", "@huggingface", "tokenizers")):
    config.available_features.add("tokenizers-js")
config.substitutions.append(("%node_modules", os.path.join(config.moec_src_root, "node_modules")))

# Features name what the tests may use: `target-<name>` for each target
# moec was built with, `tool-<name>` for an external tool (valgrind,
# ptxas), `device-<name>` for hardware present (cuda).
listed = subprocess.run([os.path.join(config.moec_obj_root, "bin", "moec"), "--list-targets"],
                        capture_output=True, text=True)
for line in listed.stdout.splitlines():
    if line.split():
        config.available_features.add("target-" + line.split()[0])
# ptxas where moec's cuda target looks for the toolkit (--cuda-toolkit).
cuda_toolkit = os.environ.get("CUDA_PATH") or "/usr/local/cuda"
if os.path.exists(os.path.join(cuda_toolkit, "bin", "ptxas")):
    config.available_features.add("tool-ptxas")
# The stand-in driver of the cuda target's tests (test/CMakeLists.txt).
config.substitutions.append(("%fake_cuda", "env LD_LIBRARY_PATH=" +
                             os.path.join(config.moec_obj_root, "test", "fake-cuda")))
if shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0:
    config.available_features.add("device-cuda")
# The npu target plugin (targets/npu), built against the installed SDK:
# tests load it into the installed moec.
npu_build = os.path.join(config.moec_obj_root, "targets", "npu-plugin")
npu_plugin = os.path.join(npu_build, "libMoecTargetNpu.so")
if os.path.exists(npu_plugin):
    config.available_features.add("target-npu")
    sdk_moec = os.path.join(config.moec_obj_root, "sdk", "bin", "moec")
    config.substitutions.append(("%moec_npu", sdk_moec + " --load-target-plugin=" + npu_plugin + " --target=npu"))
    config.substitutions.append(("%npu_opt", os.path.join(config.moec_obj_root, "sdk", "bin", "moec-opt") +
                                 " --load-target-plugin=" + npu_plugin))
    config.substitutions.append(("%npu_build", npu_build))
    config.substitutions.append(("%npu_plugin", npu_plugin))
    config.substitutions.append(("%sdk_moec", sdk_moec))
# The host CPU's vector extensions the compiled binaries may use.
with open("/proc/cpuinfo") as cpuinfo:
    if "avx512_bf16" in cpuinfo.read().split():
        config.available_features.add("cpu-avx512bf16")
# Memcheck of the compiled binaries (AVX2 builds: valgrind has no AVX-512).
if shutil.which("valgrind"):
    config.available_features.add("tool-valgrind")

tool_dirs = [os.path.join(config.moec_obj_root, "bin"), config.llvm_tools_dir]
# The importer fuzzer is built where clang's libFuzzer is installed.
if os.path.exists(os.path.join(config.moec_obj_root, "bin", "moec-onnx-import-fuzzer")):
    config.available_features.add("libfuzzer")
tools = [
    "moec",
    "moec-opt",
    "moec-import",
    "moec-onnx-import-fuzzer",
    "moec-safetensors-fuzzer",
    "moec-gguf-fuzzer",
    "moec-npy-fuzzer",
    "moec-profile-fuzzer",
    "moec-policy-fuzzer",
    "moec-checkpoint-config-fuzzer",
    "moec-checkpoint-index-fuzzer",
    "moec-tokenizer-fuzzer",
    "moec-text-settings-fuzzer",
    "moec-tokenize",
    "not",
    "count",
    # LLVM 22's binary tools (Debian's unversioned ones may be older and
    # not know the cross ISAs' newer instructions).
    ToolSubst("llvm-objdump", os.path.join(config.llvm_tools_dir, "llvm-objdump"),
              unresolved="fatal"),
    ToolSubst("llvm-readobj", os.path.join(config.llvm_tools_dir, "llvm-readobj"),
              unresolved="fatal"),
    ToolSubst("llvm-nm", os.path.join(config.llvm_tools_dir, "llvm-nm"),
              unresolved="fatal"),
    # Debian's python3-onnx and python3-numpy live with the system Python,
    # which is not necessarily the first python3 on PATH.
    ToolSubst("%python", "/usr/bin/python3", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)
