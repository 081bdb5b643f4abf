#pragma once
/// @file ota_logic.h
/// The pure parts of `spore ota update`, `spore ota all`, `spore keygen` and `spore sign`: how a
/// signed image is recognised (the ESP8266 Arduino core's format), how the signature trailer is laid
/// out, how upload progress is shown, how a fleet is cut into a canary and waves, how per-node
/// tokens are found, when a node counts as "back with the new image", and the result table.
/// No I/O: every rule is unit-tested in tests/posix/spore_cli_test.cpp. Host-side code.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spore {
namespace cli {

// ---- signed images (ESP8266 Arduino core, tools/signing.py) -----------------------------------

/// The signed-update format: image ‖ signature ‖ uint32 little-endian signature length. The core's
/// signing.py writes an RSA-2048 PKCS#1 v1.5 signature over SHA-256 of the image (256 bytes) and
/// the length bytes 00 01 00 00.
constexpr size_t kSignatureLengthBytes = 4;

/// What the end of a file says about it.
struct ImageLayout {
  bool is_signed = false;       ///< ends with a plausible signature trailer
  uint64_t image_bytes = 0;     ///< the image part (the whole file when unsigned)
  uint32_t signature_bytes = 0; ///< 0 when unsigned
};

/// Reads the trailer of a file of `file_size` bytes whose last four bytes are `last4` (ignored
/// when the file is shorter than 4 bytes). Signed when the little-endian length is an RSA
/// signature size (128, 256, 384 or 512 bytes: RSA-1024..4096; the core verifies RSA-2048) and
/// at least one image byte precedes the signature. Any other ending is an unsigned image: the
/// chance that an unsigned image ends in exactly one of those four values is small, and the CLI
/// accepts either hash from the node anyway (see image_hash_matches).
ImageLayout detect_image_layout(uint64_t file_size, const uint8_t* last4);

/// What the first bytes of a file say it is: an ESP8266 image (0xE9, the byte the node's
/// esp_image_magic_ok() checks) or an ELF file (a Linux node's executable), else neither.
enum class ImageKind { kUnknown, kEsp8266, kElf };
ImageKind image_kind(const uint8_t* head, size_t size);

/// Why `path`, whose first bytes are `head` (`size` of them), is no image any SPORE node takes,
/// or nullopt when it is one (image_kind() not kUnknown). `ota update` and `ota all` check it
/// before any request, so a wrong file fails (exit 2) before a node is touched; which of the two
/// kinds a node takes, the node itself checks (422 bad_magic).
std::optional<std::string> image_format_problem(const std::string& path, const uint8_t* head, size_t size);

/// True for the signature sizes detect_image_layout accepts.
bool plausible_signature_length(uint32_t length);

/// The bytes `spore sign` appends to an image: `signature` then its length as uint32 LE.
std::string signature_trailer(std::string_view signature);

// ---- the downgrade marker (spore sign --allow-downgrade, core/spore/auth/image_version.h) ------------

/// Where an image's version slot was found: the offset of its version text and the slot bytes
/// from there (the text, then up to the slot's end: kImageVersionMaxTextBytes + 1 bytes at most).
struct VersionSlotAt {
  uint64_t text_offset = 0;
  std::string slot_tail;
};

/// Finds the first version slot in `window` (bytes of an image starting at `base`) as a node's
/// ImageVersionScanner does: the marker, then a printable run that holds MAJOR.MINOR.PATCH. A
/// marker too close to the window's end to judge is left for the next window unless `at_end`.
/// Returns true with `slot` set when found; `*resume` is how many leading bytes of `window` the
/// next window need not keep.
bool find_version_slot(std::string_view window, uint64_t base, bool at_end, VersionSlotAt* slot, size_t* resume);

/// The bytes to write over the slot so that its version text carries the downgrade marker as a
/// build-metadata identifier ("0.1.0" -> "0.1.0+downgrade", "0.1.0+b7" -> "0.1.0+b7.downgrade");
/// `*patch` is written at `*patch_offset` (relative to the text). Empty patch when the text is
/// marked already. False with `error` when the marked text does not fit the slot (the NUL padding
/// after the text is too short).
bool downgrade_slot_patch(std::string_view slot_tail, std::string* marked_text, std::string* patch,
                          size_t* patch_offset, std::string* error);

// ---- hashes -------------------------------------------------------------------------------------

/// Lower-case hex of bytes.
std::string to_hex(const uint8_t* data, size_t size);

/// The SHA-256 values a node may report for a local file: of the image part (what a signed-update
/// verifier hashes) and of the whole file (what lands on disk when a node keeps the trailer).
/// Equal for an unsigned file.
struct ImageHashes {
  std::string image_sha256;  ///< hex, lower case
  std::string file_sha256;   ///< hex, lower case
};

/// True when `reported` (hex, any case, surrounding whitespace ignored) is one of `hashes`.
/// Empty `reported` never matches.
bool image_hash_matches(std::string_view reported, const ImageHashes& hashes);

/// The members list's `imageDigest`: the first 4 bytes of a SHA-256 as 8 hex digits.
std::string image_digest_of(std::string_view sha256_hex);

/// True when `digest` (8 hex digits, any case) is the digest of one of `hashes`.
bool image_digest_matches(std::string_view digest, const ImageHashes& hashes);

// ---- upload body --------------------------------------------------------------------------------

/// The multipart/form-data frame `curl -F firmware=@FILE` sends around the file's bytes, so the
/// body can be streamed with a known Content-Length: head, then the file, then tail.
struct MultipartFrame {
  std::string content_type;  ///< "multipart/form-data; boundary=..."
  std::string head;
  std::string tail;
};

/// `boundary` must be 1..70 characters of [0-9A-Za-z'()+_,-./:=?] (RFC 2046); `filename` is sent
/// with '"', CR and LF replaced by '_'.
MultipartFrame multipart_frame(std::string_view boundary, std::string_view field, std::string_view filename);

/// curl's boundary shape: 24 dashes then 16 hex digits from `random` (any value).
std::string multipart_boundary(uint64_t random);

// ---- progress -----------------------------------------------------------------------------------

/// "0:07", "12:04", "1:02:03"; "--:--" when unknown (negative, NaN, over 99 h).
std::string format_duration(double seconds);

/// Bytes per second as "12.3 MiB/s" (format_bytes + "/s"); "-" when not yet measurable.
std::string format_rate(double bytes_per_second);

/// One redrawn line for a terminal, at most `width` columns:
/// "[#########.........]  45%  12.3 MiB / 27.0 MiB  5.1 MiB/s  ETA 0:03".
/// The bar has a fixed width for a given terminal width (10..30 cells), so it does not jitter as
/// the numbers change, and is dropped below 70 columns.
std::string format_progress_bar(uint64_t sent, uint64_t total, double elapsed_s, size_t width);

/// One plain line for a log or pipe: "upload  45%  12.3 MiB / 27.0 MiB  5.1 MiB/s  ETA 0:03".
std::string format_progress_line(uint64_t sent, uint64_t total, double elapsed_s);

/// Percent 0..100 of sent/total (100 for an empty total).
int percent_of(uint64_t sent, uint64_t total);

/// When a plain progress line is due: at the first call, at each new 10 % step, at least once a
/// second while bytes move, and always once at 100 %. Lines never repeat the same percentage
/// except at most once per second.
class ProgressThrottle {
 public:
  /// True when a line should be printed for this sample.
  bool due(uint64_t sent, uint64_t total, double now_s);

 private:
  bool started_ = false;
  bool finished_ = false;
  int last_step_ = -1;
  double last_s_ = 0;
};

// ---- tokens ---------------------------------------------------------------------------------------

/// A `--token-map FILE`: one "NODE_ID TOKEN" per line, NODE_ID the node's id as 8 hex digits
/// (spored's state-dir `node_id` file); blank lines and '#' comments ignored; separators spaces,
/// tabs or one '='. Keyed by node id only, never by hostname or address: any LAN peer can
/// announce a hostname or an address, but only the node holding the token can prove its id
/// (request_signer.h). A name that is not a node id, a line without a token, a token with spaces,
/// or an id given twice is an error (line number in `error`). nullopt on error.
using TokenMap = std::map<uint32_t, std::string>;
std::optional<TokenMap> parse_token_map(std::string_view text, std::string* error);

/// The token for node `node_id`: the map's entry, else `fallback` (the --token / --token-file /
/// $SPORE_TOKEN token, if any).
std::optional<std::string> token_for_node(const TokenMap& map, uint32_t node_id,
                                          const std::optional<std::string>& fallback);

// ---- answers ----------------------------------------------------------------------------------------

/// The message for an error answer to POST /api/node/update: describe_error_response plus a hint
/// from the node's reason code (unauthorized / auth_*, busy, too_large, bad_magic, unsigned,
/// bad_signature, unsupported_media_type, stalled, truncated, aborted, flash_*), else from the
/// status (401, 409, 413, 415, 408). `had_token` tunes the 401 hint.
std::string describe_update_error(int status, std::string_view body, bool had_token);

}  // namespace cli
}  // namespace spore
