// cwrnn-host: runs an exported TorchScript model the way the nn~ external (1.6) does, so that an
// export can be checked without Python. See README.md for the protocol and the command line.
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/script.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

// Exit codes: 2 for a usage mistake or bad input, 1 for work that failed.
struct Failure {
  int code;
  std::string message;
};

[[noreturn]] void fail(int code, const std::string &message) { throw Failure{code, message}; }

const char *const kUsage =
    "usage: cwrnn-host MODEL.ts --list\n"
    "       cwrnn-host MODEL.ts --input IN.f32 --output OUT.f32 [--method forward] [--block 512]\n"
    "                  [--sample-rate 48000] [--set NAME=VALUE]... [--reset-at FRAME]... [--threads 1]\n"
    "                  [--warmup PASSES]\n";

// c10 messages can run to many lines (call stacks, TorchScript source); errors here are one line.
std::string first_line(const std::string &text) {
  auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

std::string quote(const std::string &text) { return "'" + text + "'"; }

std::string json_string(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// JSON has no NaN or infinity; a float that prints like an integer keeps a ".0" so that readers
// still see a float.
std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  std::string text = buf;
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

std::string json_value(const c10::IValue &value, const std::string &what) {
  if (value.isDouble()) return json_number(value.toDouble());
  if (value.isBool()) return value.toBool() ? "true" : "false";
  if (value.isInt()) return std::to_string(value.toInt());
  if (value.isString()) return json_string(value.toStringRef());
  if (value.isNone()) return "null";
  if (value.isTuple() || value.isList()) {
    const auto items = value.isTuple() ? value.toTupleRef().elements().vec() : value.toList().vec();
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json_value(items[i], what);
    return out + "]";
  }
  fail(1, what + " returned a " + value.tagKind() + ", not a float, int, bool or str");
}

struct Options {
  std::string model, input, output, method = "forward";
  bool list = false;
  int64_t block = 512, sample_rate = 48000, threads = 1, warmup = 0;
  std::vector<std::pair<std::string, std::string>> sets;
  std::vector<int64_t> resets;
  std::vector<std::string> stream_options;  // given, for refusing them next to --list
};

int64_t parse_int(const std::string &option, const std::string &text, int64_t min) {
  errno = 0;
  char *end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  const bool digits = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-');
  if (!digits || *end != '\0' || errno == ERANGE || value < min || value > INT_MAX)
    fail(2, option + " needs a whole number >= " + std::to_string(min) + ", got " + quote(text));
  return value;
}

Options parse_options(int argc, char **argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], inline_value;
    bool has_inline = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_inline = true;
    }
    auto value = [&]() -> std::string {
      if (has_inline) return inline_value;
      if (i + 1 >= argc) fail(2, arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--list" && !has_inline) {
      o.list = true;
    } else if (arg == "--input") {
      o.input = value();
    } else if (arg == "--output") {
      o.output = value();
    } else if (arg == "--method") {
      o.method = value();
    } else if (arg == "--block") {
      o.block = parse_int(arg, value(), 1);
    } else if (arg == "--sample-rate") {
      o.sample_rate = parse_int(arg, value(), 1);
    } else if (arg == "--threads") {
      o.threads = parse_int(arg, value(), 1);
    } else if (arg == "--warmup") {
      o.warmup = parse_int(arg, value(), 0);
    } else if (arg == "--reset-at") {
      o.resets.push_back(parse_int(arg, value(), 0));
    } else if (arg == "--set") {
      const std::string text = value();
      const auto eq = text.find('=');
      if (eq == std::string::npos || eq == 0) fail(2, "--set needs NAME=VALUE, got " + quote(text));
      o.sets.emplace_back(text.substr(0, eq), text.substr(eq + 1));
    } else if (arg.size() > 1 && arg[0] == '-') {
      fail(2, "unknown option " + quote(arg) + " (see --help)");
    } else {
      positional.push_back(arg);
      continue;
    }
    if (arg != "--list") o.stream_options.push_back(arg);
  }
  if (positional.size() != 1)
    fail(2, "expected one MODEL.ts argument, got " + std::to_string(positional.size()) + " (see --help)");
  o.model = positional[0];
  if (o.list && !o.stream_options.empty())
    fail(2, "--list takes no other option, got " + o.stream_options.front());
  if (!o.list && (o.input.empty() || o.output.empty()))
    fail(2, "give --list, or both --input IN.f32 and --output OUT.f32 (see --help)");
  return o;
}

class Model {
 public:
  explicit Model(const std::string &path) : path_(path) {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) fail(2, "cannot read model file " + quote(path) + ": " + std::strerror(errno));
    try {
      module_ = torch::jit::load(path);
    } catch (const c10::Error &e) {
      fail(2, quote(path) + " is not a TorchScript model: " + first_line(e.what_without_backtrace()));
    } catch (const std::exception &e) {
      fail(2, quote(path) + " is not a TorchScript model: " + first_line(e.what()));
    }
    module_.eval();
  }

  // An exception inside the model becomes a Failure with `code`: the caller knows whose fault it is.
  c10::IValue call(const std::string &name, std::vector<c10::IValue> args, int code = 1) {
    auto method = module_.find_method(name);
    if (!method) fail(2, "model " + quote(path_) + " has no method " + name + "() that nn~ models offer");
    try {
      return (*method)(std::move(args));
    } catch (const c10::Error &e) {
      fail(code, name + "() of model " + quote(path_) + " failed: " + first_line(e.what_without_backtrace()));
    } catch (const std::exception &e) {
      fail(code, name + "() of model " + quote(path_) + " failed: " + first_line(e.what()));
    }
  }

  std::vector<std::string> names(const std::string &getter) {
    const auto result = call(getter, {});
    std::vector<std::string> out;
    if (result.isList()) {
      for (const auto &item : result.toList().vec()) {
        if (!item.isString()) break;
        out.push_back(item.toStringRef());
      }
      if (out.size() == result.toList().size()) return out;
    }
    fail(2, getter + "() of model " + quote(path_) + " returned a " + result.tagKind() + ", not List[str]");
  }

  // [in_channels, in_ratio, out_channels, out_ratio], from the buffer nn~ reads.
  std::array<int64_t, 4> params(const std::string &method) {
    const std::string buffer = method + "_params";
    if (!module_.hasattr(buffer)) fail(2, "model " + quote(path_) + " has no buffer " + buffer);
    const auto value = module_.attr(buffer);
    if (!value.isTensor() || value.toTensor().numel() != 4)
      fail(2, "buffer " + buffer + " of model " + quote(path_) + " is not a tensor of 4 numbers");
    const auto t = value.toTensor().to(torch::kLong).flatten();
    std::array<int64_t, 4> p{};
    for (int i = 0; i < 4; ++i) p[i] = t[i].item<int64_t>();
    if (p[0] < 0 || p[2] < 0 || p[1] < 1 || p[3] < 1)
      fail(2, "buffer " + buffer + " of model " + quote(path_) + " holds impossible values");
    return p;
  }

  void require_method(const std::string &method) {
    const auto methods = names("get_methods");
    if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
      std::string known;
      for (const auto &m : methods) known += (known.empty() ? "" : ", ") + m;
      fail(2, "model " + quote(path_) + " has no method " + quote(method) + " (it has: " + known + ")");
    }
  }

  const std::string &path() const { return path_; }

 private:
  std::string path_;
  torch::jit::Module module_;
};

int returned_int(const c10::IValue &value, const std::string &what) {
  if (!value.isInt()) fail(1, what + " returned a " + value.tagKind() + ", not an int");
  return static_cast<int>(value.toInt());
}

int list_model(Model &model) {
  std::string out = "{\"methods\": {";
  bool first = true;
  for (const auto &method : model.names("get_methods")) {
    const auto p = model.params(method);
    out += (first ? "" : ", ") + json_string(method) + ": [" + std::to_string(p[0]) + ", " +
           std::to_string(p[1]) + ", " + std::to_string(p[2]) + ", " + std::to_string(p[3]) + "]";
    first = false;
  }
  out += "}, \"attributes\": {";
  first = true;
  for (const auto &name : model.names("get_attributes")) {
    out += (first ? "" : ", ") + json_string(name) + ": " +
           json_value(model.call("get_" + name, {}), "get_" + name + "()");
    first = false;
  }
  std::cout << out << "}}" << std::endl;
  return 0;
}

bool parse_bool(const std::string &text, bool &value) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "1" || t == "yes" || t == "on") return value = true, true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return value = false, true;
  return false;
}

// The command line gives text; set_A() takes the type that get_A() returns.
c10::IValue attribute_value(const c10::IValue &current, const std::string &name, const std::string &text) {
  const std::string bad = "--set " + name + "=" + text + ": " + quote(text) + " is not ";
  char *end = nullptr;
  errno = 0;
  if (current.isDouble()) {
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE) fail(2, bad + "a number (" + name + " is a float)");
    return v;
  }
  if (current.isBool()) {
    bool v = false;
    if (!parse_bool(text, v)) fail(2, bad + "true or false (" + name + " is a bool)");
    return v;
  }
  if (current.isInt()) {
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE) fail(2, bad + "a whole number (" + name + " is an int)");
    return static_cast<int64_t>(v);
  }
  if (current.isString()) return text;
  fail(2, "--set " + name + ": the attribute holds a " + current.tagKind() + ", which cannot be set from text");
}

void set_attributes(Model &model, const Options &o) {
  if (o.sets.empty()) return;
  const auto attributes = model.names("get_attributes");
  for (const auto &[name, text] : o.sets) {
    if (std::find(attributes.begin(), attributes.end(), name) == attributes.end())
      fail(2, "--set: model " + quote(model.path()) + " has no attribute " + quote(name));
    const auto value = attribute_value(model.call("get_" + name, {}), name, text);
    const int refused = returned_int(model.call("set_" + name, {value}, 2), "set_" + name + "()");
    if (refused != 0)
      fail(2, "model " + quote(model.path()) + " refused --set " + name + "=" + text + " (set_" + name +
                  " returned " + std::to_string(refused) + ")");
  }
}

std::vector<float> read_input(const std::string &path, int64_t channels) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(2, "cannot read input file " + quote(path) + ": " + std::strerror(errno));
  const std::streamoff bytes = in.tellg();
  if (bytes < 0) fail(2, "cannot read input file " + quote(path) + " (not a regular file?)");
  const int64_t frame_bytes = 4 * channels;
  if (bytes == 0 || bytes % frame_bytes != 0)
    fail(2, "input file " + quote(path) + " holds " + std::to_string(bytes) + " bytes, not a whole number (> 0) of frames of " +
                std::to_string(channels) + " float32 channel(s) (" + std::to_string(frame_bytes) + " bytes each)");
  std::vector<float> data(static_cast<size_t>(bytes / 4));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char *>(data.data()), bytes))
    fail(1, "cannot read input file " + quote(path) + ": " + std::strerror(errno));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (auto &v : data) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u = __builtin_bswap32(u);
    std::memcpy(&v, &u, 4);
  }
#endif
  return data;
}

// Temp file and rename: a reader never sees half an output, and a failed run leaves none.
void write_output(const std::string &path, const std::vector<float> &data) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(1, "cannot write output file " + quote(path) + ": " + std::strerror(errno));
    out.write(reinterpret_cast<const char *>(data.data()), static_cast<std::streamsize>(data.size() * 4));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      fail(1, "cannot write output file " + quote(path) + ": " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    fail(1, "cannot write output file " + quote(path) + ": " + why);
  }
}

int stream(Model &model, const Options &o) {
  model.require_method(o.method);
  const auto [in_ch, in_ratio, out_ch, out_ratio] = model.params(o.method);
  if (in_ch < 1) fail(2, "method " + o.method + " takes no input channels, so an input file cannot give its length");
  if (o.block % in_ratio || o.block % out_ratio)
    fail(2, "--block " + std::to_string(o.block) + " is not a multiple of method " + o.method + "'s ratios (" +
                std::to_string(in_ratio) + " in, " + std::to_string(out_ratio) + " out)");
  const auto data = read_input(o.input, in_ch);
  const int64_t frames = static_cast<int64_t>(data.size()) / in_ch;
  if (frames % in_ratio || frames % out_ratio)
    fail(2, "input file " + quote(o.input) + " holds " + std::to_string(frames) +
                " frames, not a multiple of method " + o.method + "'s ratios");
  for (const auto at : o.resets) {
    if (at % o.block) fail(2, "--reset-at " + std::to_string(at) + " is not a multiple of --block " + std::to_string(o.block));
    if (at >= frames) fail(2, "--reset-at " + std::to_string(at) + " is past the input's " + std::to_string(frames) + " frames");
  }
  const std::set<int64_t> resets(o.resets.begin(), o.resets.end());

  c10::InferenceMode guard;  // as nn~ does; state buffers updated inside methods stay consistent
  const int rate_refused = returned_int(model.call("set_sample_rate", {o.sample_rate}), "set_sample_rate()");
  if (rate_refused != 0)
    fail(1, "model " + quote(model.path()) + " refused the sample rate " + std::to_string(o.sample_rate) +
                " Hz (set_sample_rate returned " + std::to_string(rate_refused) + ")");
  set_attributes(model, o);

  const auto whole = torch::from_blob(const_cast<float *>(data.data()), {in_ch, frames}, torch::kFloat);
  // A host's prepare: TorchScript's profiling executor optimises a method over its first calls
  // (blocks of 60-170 ms in the exported models' first pass), so timings after warm-up passes are
  // what a running patch sees. Each pass ends with reset(), so the timed pass plays from the start.
  for (int64_t pass = 0; pass < o.warmup; ++pass) {
    for (int64_t start = 0; start < frames; start += o.block) {
      const int64_t n = std::min(o.block, frames - start);
      auto x = whole.narrow(1, start, n).reshape({in_ch, n / in_ratio, in_ratio}).select(2, in_ratio - 1);
      model.call(o.method, {x.unsqueeze(0).clone(at::MemoryFormat::Contiguous)});
    }
    if (returned_int(model.call("reset", {}), "reset()") != 0)
      fail(1, "reset() of model " + quote(model.path()) + " refused after warm-up pass " + std::to_string(pass + 1));
  }
  std::vector<float> out(static_cast<size_t>(out_ch * frames));
  double seconds = 0, worst = 0;
  int64_t blocks = 0;
  for (int64_t start = 0; start < frames; start += o.block, ++blocks) {
    const int64_t n = std::min(o.block, frames - start);
    if (resets.count(start) && returned_int(model.call("reset", {}), "reset()") != 0)
      fail(1, "reset() of model " + quote(model.path()) + " refused before frame " + std::to_string(start));
    // nn~ hands a method with in_ratio r the last sample of every r host frames.
    auto x = whole.narrow(1, start, n).reshape({in_ch, n / in_ratio, in_ratio}).select(2, in_ratio - 1);
    x = x.unsqueeze(0).clone(at::MemoryFormat::Contiguous);
    const auto t0 = std::chrono::steady_clock::now();
    const auto result = model.call(o.method, {x});
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    seconds += took;
    worst = std::max(worst, took);
    const std::string where = "method " + o.method + " on the block at frame " + std::to_string(start);
    if (!result.isTensor()) fail(1, where + " returned a " + result.tagKind() + ", not a tensor");
    auto y = result.toTensor();
    const std::vector<int64_t> expected{1, out_ch, n / out_ratio};
    if (y.sizes().vec() != expected) {
      std::ostringstream msg;
      msg << where << " returned shape " << y.sizes() << ", expected " << c10::IntArrayRef(expected);
      fail(1, msg.str());
    }
    // ... and holds each of its outputs for out_ratio host frames.
    y = y[0].to(torch::kFloat).repeat_interleave(out_ratio, 1).contiguous();
    for (int64_t c = 0; c < out_ch; ++c)
      std::memcpy(out.data() + c * frames + start, y[c].data_ptr<float>(), static_cast<size_t>(n) * 4);
  }
  write_output(o.output, out);

  std::cout << "{\"blocks\": " << blocks << ", \"frames\": " << frames << ", \"seconds\": " << json_number(seconds)
            << ", \"us_per_block\": " << json_number(seconds * 1e6 / static_cast<double>(blocks))
            << ", \"worst_us_per_block\": " << json_number(worst * 1e6)
            << ", \"realtime\": "
            << json_number(seconds > 0 ? static_cast<double>(frames) / o.sample_rate / seconds : NAN) << "}"
            << std::endl;
  return 0;
}

int run(int argc, char **argv) {
  const Options o = parse_options(argc, argv);
  at::set_num_threads(static_cast<int>(o.threads));
  Model model(o.model);
  return o.list ? list_model(model) : stream(model, o);
}

}  // namespace

int main(int argc, char **argv) {
  // Every error ends here as one line and an exit code: nothing may escape as an abort.
  try {
    return run(argc, argv);
  } catch (const Failure &f) {
    std::cerr << "cwrnn-host: " << f.message << std::endl;
    return f.code;
  } catch (const c10::Error &e) {
    std::cerr << "cwrnn-host: " << first_line(e.what_without_backtrace()) << std::endl;
  } catch (const std::exception &e) {
    std::cerr << "cwrnn-host: " << first_line(e.what()) << std::endl;
  } catch (...) {
    std::cerr << "cwrnn-host: unexpected error" << std::endl;
  }
  return 1;
}
