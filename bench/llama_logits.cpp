// llama-logits: whole-prompt logits from llama.cpp, for bench/llama_cpp_logits.py.
//
// usage: llama-logits MODEL.gguf IDS OUT [--threads N]
//   IDS  token ids: a 1-D .npy (int64 or int32, little-endian), or a text
//        file of whitespace-separated integers
//   OUT  float32 logits [T, n_vocab]: a .npy file if the name ends in .npy,
//        raw little-endian float32 otherwise
//
// The model is read without mmap into CPU memory; the context holds exactly
// the prompt (n_ctx = n_batch = n_ubatch >= T), keeps K and V in F32 (the
// default F16 cache would round every cached key and value), runs without
// flash attention (plain F32 KQ and softmax), and returns logits for every
// token. The ids go in as one batch, positions 0..T-1, sequence 0.
//
// Built by bench/llama_cpp_logits.py against the llama.cpp checkout of
// bench/llama_cpp.py; not part of the moec build.

#include "llama.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string & msg) {
    std::fprintf(stderr, "llama-logits: %s\n", msg.c_str());
    std::exit(1);
}

bool ends_with(const std::string & s, const std::string & tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A 1-D little-endian int64/int32 .npy array.
std::vector<llama_token> read_npy_ids(const std::string & path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) die("cannot open " + path);
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (data.size() < 10 || data.compare(0, 6, "\x93NUMPY") != 0) die(path + ": not a .npy file");
    const unsigned major = (unsigned char) data[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (unsigned char) data[8] | ((unsigned char) data[9] << 8);
        off = 10;
    } else {
        if (data.size() < 12) die(path + ": truncated header");
        hlen = (unsigned char) data[8] | ((unsigned char) data[9] << 8) |
               ((size_t)(unsigned char) data[10] << 16) | ((size_t)(unsigned char) data[11] << 24);
        off = 12;
    }
    if (off + hlen > data.size()) die(path + ": truncated header");
    const std::string header = data.substr(off, hlen);
    const char * body = data.data() + off + hlen;
    const size_t nbytes = data.size() - off - hlen;
    if (header.find("'fortran_order': True") != std::string::npos) die(path + ": fortran order");
    size_t width;
    if (header.find("'<i8'") != std::string::npos) {
        width = 8;
    } else if (header.find("'<i4'") != std::string::npos) {
        width = 4;
    } else {
        die(path + ": ids must be <i8 or <i4, header " + header);
    }
    const size_t sp = header.find("'shape': (");
    if (sp == std::string::npos) die(path + ": no shape");
    const long n = std::strtol(header.c_str() + sp + 10, nullptr, 10);
    if (header.find(",)", sp) == std::string::npos && header.find(", )", sp) == std::string::npos)
        die(path + ": ids must be 1-D, header " + header);
    if (n <= 0 || (size_t) n * width > nbytes) die(path + ": bad length");
    std::vector<llama_token> ids(n);
    for (long i = 0; i < n; ++i) {
        if (width == 8) {
            int64_t v;
            std::memcpy(&v, body + 8 * i, 8);
            ids[i] = (llama_token) v;
        } else {
            int32_t v;
            std::memcpy(&v, body + 4 * i, 4);
            ids[i] = v;
        }
    }
    return ids;
}

std::vector<llama_token> read_text_ids(const std::string & path) {
    std::ifstream f(path);
    if (!f) die("cannot open " + path);
    std::vector<llama_token> ids;
    long v;
    while (f >> v) ids.push_back((llama_token) v);
    if (!f.eof()) die(path + ": not a list of integers");
    return ids;
}

void write_logits(const std::string & path, const std::vector<float> & y, int T, int V) {
    std::ofstream f(path, std::ios::binary);
    if (!f) die("cannot write " + path);
    if (ends_with(path, ".npy")) {
        std::ostringstream h;
        h << "{'descr': '<f4', 'fortran_order': False, 'shape': (" << T << ", " << V << "), }";
        std::string header = h.str();
        while ((10 + header.size() + 1) % 64 != 0) header += ' ';
        header += '\n';
        const uint16_t hl = (uint16_t) header.size();
        f.write("\x93NUMPY\x01\x00", 8);
        const char len[2] = {(char) (hl & 0xff), (char) (hl >> 8)};
        f.write(len, 2);
        f.write(header.data(), header.size());
    }
    f.write(reinterpret_cast<const char *>(y.data()), y.size() * sizeof(float));
    if (!f) die("short write to " + path);
}

void quiet_log(ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_WARN || std::getenv("LLAMA_LOGITS_VERBOSE")) {
        std::fputs(text, stderr);
    }
}

}  // namespace

int main(int argc, char ** argv) {
    std::vector<std::string> pos;
    int threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
        } else if (a == "-h" || a == "--help") {
            std::printf("usage: %s MODEL.gguf IDS OUT [--threads N]\n", argv[0]);
            return 0;
        } else {
            pos.push_back(a);
        }
    }
    if (pos.size() != 3 || threads < 1) die("usage: llama-logits MODEL.gguf IDS OUT [--threads N]");
    const std::string model_path = pos[0], ids_path = pos[1], out_path = pos[2];

    const std::vector<llama_token> ids =
        ends_with(ids_path, ".npy") ? read_npy_ids(ids_path) : read_text_ids(ids_path);
    const int T = (int) ids.size();
    if (T == 0) die("no token ids in " + ids_path);

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.load_mode = LLAMA_LOAD_MODE_NONE;  // read the file, no mmap
    mp.lazy_mode = LLAMA_LAZY_MODE_OFF;
    mp.use_extra_bufts = false;           // no weight repacking
    llama_model * model = llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) die("cannot load " + model_path);

    const int V = llama_vocab_n_tokens(llama_model_get_vocab(model));
    for (llama_token t : ids) {
        if (t < 0 || t >= V) die("token id " + std::to_string(t) + " outside the vocabulary of " + std::to_string(V));
    }

    llama_context_params cp = llama_context_default_params();
    const uint32_t n = (uint32_t) ((T + 255) / 256 * 256);  // whole prompt in one ubatch
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_ubatch = n;
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.embeddings = false;
    cp.offload_kqv = false;
    cp.op_offload = false;
    cp.no_perf = true;
    cp.swa_full = true;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) die("cannot create a context");

    llama_batch batch = llama_batch_init(T, 0, 1);
    for (int i = 0; i < T; ++i) {
        batch.token[i] = ids[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = T;
    const int32_t rc = llama_decode(ctx, batch);
    if (rc != 0) die("llama_decode returned " + std::to_string(rc));

    std::vector<float> y((size_t) T * V);
    for (int i = 0; i < T; ++i) {
        const float * row = llama_get_logits_ith(ctx, i);
        if (!row) die("no logits for token " + std::to_string(i));
        std::memcpy(y.data() + (size_t) i * V, row, sizeof(float) * V);
    }
    write_logits(out_path, y, T, V);

    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
