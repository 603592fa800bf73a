#===- runtime/Sources.cmake - The runtime's source lists --------------------===#
#
# Shared by the runtime of this machine (runtime/CMakeLists.txt) and the
# runtimes of cross binaries (runtime/cross/CMakeLists.txt); paths are
# relative to runtime/.
#
#===-------------------------------------------------------------------------===#
set(MOEC_RUNTIME_FORMAT_SOURCES
  formats/Checksum.cpp
  formats/DType.cpp
  formats/Gguf.cpp
  formats/Json.cpp
  formats/MappedFile.cpp
  formats/Npy.cpp
  formats/RoutingProfile.cpp
  formats/SafeTensors.cpp
)
set(MOEC_TOKENIZER_SOURCES
  tokenizer/ChatTemplate.cpp
  tokenizer/StreamDecoder.cpp
  tokenizer/TextSettings.cpp
  tokenizer/Tokenizer.cpp
)
# The binary's host program: the command line, the model's calls, the
# thread pool, generation.
set(MOEC_HOST_PROGRAM_SOURCES
  generate/Generate.cpp
  generate/Sampler.cpp
  host/EntryCall.cpp
  host/Main.cpp
  host/MemrefCopy.cpp
  host/Model.cpp
  host/ProfileRecorder.cpp
  host/ThreadPool.cpp
  host/TokenBench.cpp
  host/TokenRun.cpp
  host/TokenSession.cpp
)
