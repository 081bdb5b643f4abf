#include "ota_logic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cli_format.h"
#include "json_fields.h"
#include "request_signer.h"
#include "spore/auth/image_version.h"
#include "spore/base/bytes.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

std::string lower_trimmed(std::string_view s) {
  std::string out = trim(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool boundary_char_ok(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
}

}  // namespace

// ---- signed images -----------------------------------------------------------------------------

bool plausible_signature_length(uint32_t length) {
  return length == 128 || length == 256 || length == 384 || length == 512;
}

ImageKind image_kind(const uint8_t* head, size_t size) {
  constexpr uint8_t kEspMagic = 0xE9;  // ESPLoader.ESP_IMAGE_MAGIC, core/spore/device/esp_image.cpp
  static constexpr uint8_t kElfMagic[4] = {0x7F, 'E', 'L', 'F'};
  if (head == nullptr || size == 0) return ImageKind::kUnknown;
  if (head[0] == kEspMagic) return ImageKind::kEsp8266;
  if (size >= sizeof kElfMagic && std::memcmp(head, kElfMagic, sizeof kElfMagic) == 0) return ImageKind::kElf;
  return ImageKind::kUnknown;
}

std::optional<std::string> image_format_problem(const std::string& path, const uint8_t* head, size_t size) {
  if (image_kind(head, size) != ImageKind::kUnknown) return std::nullopt;
  std::string what = "it starts with";
  char hex[4];
  for (size_t i = 0; i < std::min<size_t>(size, 4); ++i) {
    std::snprintf(hex, sizeof hex, " %02X", head[i]);
    what += hex;
  }
  if (size == 0) what = "it is empty";
  if (size >= 2 && head[0] == 0x1F && head[1] == 0x8B) what += " (gzip: nodes take the image itself)";
  return path + " is not a firmware image: " + what +
         "; an ESP8266 takes a .bin starting with E9, a Linux node an ELF executable (7F 45 4C 46). Nothing was "
         "sent";
}

ImageLayout detect_image_layout(uint64_t file_size, const uint8_t* last4) {
  ImageLayout out;
  out.image_bytes = file_size;
  if (file_size < kSignatureLengthBytes || last4 == nullptr) return out;
  const uint32_t length = load_le32(last4);
  if (!plausible_signature_length(length)) return out;
  // At least one image byte before the signature.
  if (file_size < static_cast<uint64_t>(length) + kSignatureLengthBytes + 1) return out;
  out.is_signed = true;
  out.signature_bytes = length;
  out.image_bytes = file_size - length - kSignatureLengthBytes;
  return out;
}

std::string signature_trailer(std::string_view signature) {
  std::string out(signature);
  const auto n = static_cast<uint32_t>(signature.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return out;
}

// ---- the downgrade marker --------------------------------------------------------------------------

namespace {
constexpr std::string_view kSlotMarker = "SPORE-VERSION-SLOT:";
/// Marker, text and its terminating NUL: what must be in the window to judge one slot.
constexpr size_t kSlotSpanBytes = kImageVersionMarkerBytes + kImageVersionMaxTextBytes + 1;

/// The version text at the start of `tail`: printable ASCII without spaces, at most
/// kImageVersionMaxTextBytes (the rule of ImageVersionScanner::feed()).
std::string_view slot_text(std::string_view tail) {
  size_t n = 0;
  while (n < tail.size() && n < kImageVersionMaxTextBytes && tail[n] > ' ' && tail[n] <= '~') ++n;
  return tail.substr(0, n);
}
}  // namespace

bool find_version_slot(std::string_view window, uint64_t base, bool at_end, VersionSlotAt* slot, size_t* resume) {
  size_t from = 0;
  for (;;) {
    const size_t at = window.find(kSlotMarker, from);
    if (at == std::string_view::npos) {
      // A marker may start in the last bytes: keep them for the next window.
      *resume = window.size() > kSlotMarker.size() ? window.size() - kSlotMarker.size() + 1 : 0;
      return false;
    }
    if (!at_end && window.size() - at < kSlotSpanBytes) {
      *resume = at;
      return false;
    }
    const std::string_view tail = window.substr(at + kSlotMarker.size(), kImageVersionMaxTextBytes + 1);
    if (parse_image_version(slot_text(tail)).valid) {
      slot->text_offset = base + at + kSlotMarker.size();
      slot->slot_tail = std::string(tail);
      return true;
    }
    from = at + 1;  // a stray marker: the search goes on, as on the node
  }
}

bool downgrade_slot_patch(std::string_view slot_tail, std::string* marked_text, std::string* patch,
                          size_t* patch_offset, std::string* error) {
  const std::string_view text = slot_text(slot_tail);
  patch->clear();
  *patch_offset = text.size();
  if (parse_image_version(text).downgrade_marked) {
    *marked_text = std::string(text);
    return true;
  }
  // Build metadata starts at the first '+'; the marker is one more identifier in it.
  const std::string suffix = std::string(text.find('+') == std::string_view::npos ? "+" : ".") + kImageDowngradeMarker;
  const size_t marked_len = text.size() + suffix.size();
  // The bytes the longer text takes, and the NUL that ends it (none at a full slot), must be padding.
  const size_t need = std::min(marked_len + 1, kImageVersionMaxTextBytes);
  bool padded = slot_tail.size() >= need && marked_len <= kImageVersionMaxTextBytes;
  for (size_t i = text.size(); padded && i < need; ++i) padded = slot_tail[i] == '\0';
  if (!padded) {
    *error = "the version text '" + std::string(text) + "' has no room for '" + suffix + "' in its slot (at most " +
             std::to_string(kImageVersionMaxTextBytes) + " characters, NUL-padded)";
    return false;
  }
  *marked_text = std::string(text) + suffix;
  *patch = suffix;
  return true;
}

// ---- hashes ---------------------------------------------------------------------------------------

std::string to_hex(const uint8_t* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0F]);
  }
  return out;
}

bool image_hash_matches(std::string_view reported, const ImageHashes& hashes) {
  const std::string r = lower_trimmed(reported);
  if (r.empty()) return false;
  return r == lower_trimmed(hashes.image_sha256) || r == lower_trimmed(hashes.file_sha256);
}

std::string image_digest_of(std::string_view sha256_hex) { return lower_trimmed(sha256_hex).substr(0, 8); }

bool image_digest_matches(std::string_view digest, const ImageHashes& hashes) {
  const std::string d = lower_trimmed(digest);
  if (d.size() != 8) return false;
  return d == image_digest_of(hashes.image_sha256) || d == image_digest_of(hashes.file_sha256);
}

// ---- upload body -----------------------------------------------------------------------------------

MultipartFrame multipart_frame(std::string_view boundary, std::string_view field, std::string_view filename) {
  std::string b;
  for (char c : boundary) {
    if (boundary_char_ok(c) && b.size() < 70) b.push_back(c);
  }
  if (b.empty()) b = "spore-boundary";
  std::string name;
  for (char c : filename) name.push_back(c == '"' || c == '\r' || c == '\n' ? '_' : c);
  if (name.empty()) name = "firmware.bin";
  MultipartFrame f;
  f.content_type = "multipart/form-data; boundary=" + b;
  f.head = "--" + b + "\r\nContent-Disposition: form-data; name=\"" + std::string(field) + "\"; filename=\"" + name +
           "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
  f.tail = "\r\n--" + b + "--\r\n";
  return f;
}

std::string multipart_boundary(uint64_t random) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(random));
  return std::string(24, '-') + hex;
}

// ---- progress ---------------------------------------------------------------------------------------

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 99.0 * 3600) return "--:--";
  const auto total = static_cast<long>(std::llround(seconds));
  const long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buf[32];
  if (h > 0) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", h, m, s);
  } else {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", m, s);
  }
  return buf;
}

std::string format_rate(double bytes_per_second) {
  if (!(bytes_per_second > 0) || !std::isfinite(bytes_per_second)) return "-";
  return format_bytes(static_cast<uint64_t>(bytes_per_second)) + "/s";
}

int percent_of(uint64_t sent, uint64_t total) {
  if (total == 0) return 100;
  if (sent >= total) return 100;
  return static_cast<int>((static_cast<long double>(sent) * 100) / total);
}

namespace {

// "45%  12.3 MiB / 27.0 MiB  5.1 MiB/s  ETA 0:03" (or "in 0:05" once complete).
std::string progress_numbers(uint64_t sent, uint64_t total, double elapsed_s) {
  // Early samples say little about the rate; the last one always gets it.
  const bool measurable = elapsed_s > 0.05 || (sent >= total && elapsed_s > 0);
  const double rate = measurable ? static_cast<double>(sent) / elapsed_s : 0;
  char pct[8];
  std::snprintf(pct, sizeof(pct), "%3d%%", percent_of(sent, total));
  std::string out = pct;
  out += "  " + format_bytes(sent) + " / " + format_bytes(total) + "  " + format_rate(rate);
  if (sent >= total) {
    out += "  in " + format_duration(elapsed_s);
  } else {
    const double eta = rate > 0 ? static_cast<double>(total - sent) / rate : -1;
    out += "  ETA " + format_duration(eta);
  }
  return out;
}

}  // namespace

std::string format_progress_bar(uint64_t sent, uint64_t total, double elapsed_s, size_t width) {
  const std::string numbers = progress_numbers(sent, total, elapsed_s);
  // The bar keeps its width while the numbers beside it grow and shrink (room for the longest
  // numbers, about 56 columns), so it does not jitter; 10..30 cells.
  constexpr size_t kNumbersRoom = 56;
  if (width < kNumbersRoom + 14 || numbers.size() + 14 > width) return numbers.substr(0, width);
  const size_t cells = std::min<size_t>(30, width - kNumbersRoom - 4);
  const auto filled = static_cast<size_t>(static_cast<long double>(cells) * percent_of(sent, total) / 100);
  std::string bar = "[" + std::string(filled, '#') + std::string(cells - filled, '.') + "]";
  return bar + "  " + numbers;
}

std::string format_progress_line(uint64_t sent, uint64_t total, double elapsed_s) {
  return "upload " + progress_numbers(sent, total, elapsed_s);
}

bool ProgressThrottle::due(uint64_t sent, uint64_t total, double now_s) {
  if (finished_) return false;
  const int pct = percent_of(sent, total);
  const int step = pct / 10;
  bool emit = false;
  if (!started_) {
    emit = true;
  } else if (pct >= 100) {
    emit = true;
  } else if (step > last_step_) {
    emit = true;
  } else if (now_s - last_s_ >= 1.0) {
    emit = true;
  }
  if (!emit) return false;
  started_ = true;
  last_step_ = step;
  last_s_ = now_s;
  if (pct >= 100) finished_ = true;
  return true;
}

// ---- tokens ---------------------------------------------------------------------------------------

std::optional<TokenMap> parse_token_map(std::string_view text, std::string* error) {
  TokenMap map;
  size_t pos = 0;
  int line_no = 0;
  auto fail = [&](const std::string& why) -> std::optional<TokenMap> {
    if (error != nullptr) *error = "line " + std::to_string(line_no) + ": " + why;
    return std::nullopt;
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const size_t sep = line.find_first_of(" \t=");
    if (sep == std::string::npos) return fail("expected 'NODE_ID TOKEN', got only '" + line + "'");
    std::string name = trim(std::string_view(line).substr(0, sep));
    std::string_view rest = std::string_view(line).substr(sep);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (!rest.empty() && rest.front() == '=') rest.remove_prefix(1);
    std::string token = trim(rest);
    if (name.empty()) return fail("no node id before the token");
    const std::optional<uint32_t> id = parse_node_id(name);
    if (!id) {
      return fail("'" + name +
                  "' is not a node id (8 hex digits, as in the node's state-dir node_id file); tokens are looked "
                  "up by node id only, since any LAN peer can claim a hostname or an address");
    }
    if (token.empty()) return fail("no token for node " + name);
    if (token.find_first_of(" \t") != std::string::npos) return fail("the token for node " + name + " has spaces");
    if (!map.emplace(*id, token).second) return fail("node " + name + " is given twice");
  }
  return map;
}

std::optional<std::string> token_for_node(const TokenMap& map, uint32_t node_id,
                                          const std::optional<std::string>& fallback) {
  const auto it = map.find(node_id);
  return it != map.end() ? std::optional<std::string>(it->second) : fallback;
}

// ---- answers ----------------------------------------------------------------------------------------

std::string describe_update_error(int status, std::string_view body, bool had_token) {
  std::string out = describe_error_response(status, body);
  // The node's reason code says most; the status is the fallback for nodes that send none.
  Json j = parse_node_json(body);
  const std::string code = !j.is_discarded() && j.is_object() ? json_string(j, "code") : std::string();
  std::string hint;
  if (status == 401 || code == "unauthorized" || code.rfind("auth_", 0) == 0) {
    hint = auth_refusal_hint(body, had_token);
  } else if (code == "digest_mismatch") {
    hint = "the node received other bytes than the image the request proof was made for (changed in transit?)";
  } else if (code == "bad_image") {
    hint = "the image is damaged or not a complete image for this node (truncated, corrupt headers or "
           "checksum); nothing was installed";
  } else if (code == "self_test_failed") {
    hint = "the new image did not pass its trial run on the node (`spored --self-test`); nothing was installed, "
           "see the node's log";
  } else if (code == "busy" || status == 409) {
    hint = "another upload to this node is running (or it is about to restart into one); wait and retry";
  } else if (code == "too_large" || code == "payload_too_large" || status == 413) {
    hint = "the image is larger than the space the node has for an update";
  } else if (code == "bad_magic") {
    hint = "not an image for this node: an ESP8266 takes a .bin starting with 0xE9, a Linux node an ELF "
           "executable (spored)";
  } else if (code == "unsigned") {
    hint = "this node only takes signed images: `spore sign FILE --key private.key` with the key pair whose "
           "public key the node has";
  } else if (code == "bad_signature") {
    hint = "the signature does not verify with the node's public key: sign with the matching private key";
  } else if (code == "unsupported_media_type" || status == 415) {
    hint = "the node takes multipart/form-data (the default) or application/octet-stream (--raw)";
  } else if (code == "stalled" || status == 408) {
    hint = "the upload stalled; retry, or raise --timeout";
  } else if (code == "truncated" || code == "aborted") {
    hint = "the node received fewer bytes than announced; retry";
  } else if (code.rfind("flash_", 0) == 0) {
    hint = "the node could not write or switch to the image (disk space, permissions); see its log";
  }
  if (!hint.empty()) out += "\n  " + hint;
  return out;
}

}  // namespace cli
}  // namespace spore
