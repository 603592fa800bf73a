//===- moec-tokenize.cpp - Tokenize text with a tokenizer.json ------------===//
//
// moec-tokenize TOKENIZER.json CORPUS [--decode]: for each line of CORPUS
// (a JSON string per line), the ids the runtime's tokenizer gives, space
// separated, one line each; with --decode, the text of those ids as a JSON
// string. With --stream, CORPUS lines are space-separated ids instead,
// fed one at a time through the stream decoder that generation prints
// with: each line is a JSON array of the pieces it returned. It checks the
// tokenizer compiled models use against Hugging Face's (test/tokenizer/).
//
//===----------------------------------------------------------------------===//

#include "runtime/formats/Json.h"
#include "runtime/tokenizer/StreamDecoder.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

using namespace moec::rt;

static int fail(const std::string &message) {
  std::fprintf(stderr, "moec-tokenize: error: %s\n", message.c_str());
  return 1;
}

int main(int argc, char **argv) {
  std::string args[3];
  int positional = 0;
  bool decode = false, stream = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--decode")
      decode = true;
    else if (arg == "--stream")
      stream = true;
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: moec-tokenize TOKENIZER.json CORPUS "
                  "[--decode | --stream]\n"
                  "  CORPUS holds one JSON string per line; prints the ids "
                  "of each line\n  (with --decode, the decoded ids as a JSON "
                  "string)\n  --stream: CORPUS lines are ids; prints the "
                  "pieces generation would print\n  for them, one at a time, "
                  "as a JSON array per line\n");
      return 0;
    } else if (positional < 2)
      args[positional++] = arg;
    else
      return fail("unexpected argument '" + arg + "' (see --help)");
  }
  if (positional != 2)
    return fail("give TOKENIZER.json and CORPUS (see --help)");
  std::ifstream tokenizerFile(args[0], std::ios::binary);
  if (!tokenizerFile)
    return fail("cannot read '" + args[0] + "'");
  std::stringstream text;
  text << tokenizerFile.rdbuf();
  std::string error;
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::load(text.str(), error);
  if (!tokenizer)
    return fail(args[0] + ": " + error);
  std::ifstream corpus(args[1]);
  if (!corpus)
    return fail("cannot read '" + args[1] + "'");
  std::string line;
  for (int number = 1; std::getline(corpus, line); ++number) {
    if (stream) {
      StreamDecoder decoder(*tokenizer, -1);
      std::istringstream words(line);
      std::string out = "[", word;
      auto append = [&](const std::string &piece) {
        out += out.size() > 1 ? ", " : "";
        json::appendQuoted(out, piece);
      };
      while (words >> word) {
        char *end;
        long id = std::strtol(word.c_str(), &end, 10);
        if (*end || id < 0 || id >= tokenizer->vocabularySize())
          return fail(args[1] + ":" + std::to_string(number) + ": '" + word +
                      "' is not an id of the tokenizer");
        append(decoder.push(int32_t(id)));
      }
      append(decoder.finish());
      std::printf("%s]\n", out.c_str());
      continue;
    }
    json::Value value;
    if (!json::parse(line, value, error) ||
        value.kind != json::Value::Kind::String)
      return fail(args[1] + ":" + std::to_string(number) +
                  ": not a JSON string");
    std::vector<int32_t> ids = tokenizer->encode(value.string);
    if (decode) {
      std::string out;
      json::appendQuoted(out, tokenizer->decode(ids));
      std::printf("%s\n", out.c_str());
      continue;
    }
    for (size_t i = 0; i < ids.size(); ++i)
      std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
  }
  return 0;
}
