#include "spore/device/config_record.h"

#include <bearssl/bearssl_hash.h>

#include <cstring>

namespace spore {

namespace {

constexpr uint8_t kMagic[4] = {'S', 'P', 'C', '1'};

void text_check(std::string_view text, uint8_t (&out)[4]) {
  br_sha256_context sha;
  br_sha256_init(&sha);
  br_sha256_update(&sha, text.data(), text.size());
  uint8_t digest[br_sha256_SIZE];
  br_sha256_out(&sha, digest);
  std::memcpy(out, digest, sizeof out);
}

}  // namespace

size_t encode_config_record(std::string_view text, uint8_t* out, size_t out_bytes) {
  if (text.size() >= SPORE_DEVICE_CONFIG_MAX_BYTES) return 0;
  const size_t size = (kConfigRecordHeaderBytes + text.size() + 3) & ~size_t{3};
  if (out == nullptr || out_bytes < size) return 0;
  std::memset(out, 0, size);
  std::memcpy(out, kMagic, sizeof kMagic);
  out[4] = static_cast<uint8_t>(text.size());
  out[5] = static_cast<uint8_t>(text.size() >> 8);
  uint8_t check[4];
  text_check(text, check);
  std::memcpy(out + 8, check, sizeof check);
  if (!text.empty()) std::memcpy(out + kConfigRecordHeaderBytes, text.data(), text.size());
  return size;
}

bool config_record_present(const uint8_t* record, size_t record_bytes) {
  return record != nullptr && record_bytes >= sizeof kMagic && std::memcmp(record, kMagic, sizeof kMagic) == 0;
}

bool decode_config_record(const uint8_t* record, size_t record_bytes, std::string_view* text) {
  *text = std::string_view();
  if (record == nullptr || record_bytes < kConfigRecordHeaderBytes) return false;
  if (!config_record_present(record, record_bytes) || record[6] != 0 || record[7] != 0) return false;
  const size_t length = static_cast<size_t>(record[4]) | (static_cast<size_t>(record[5]) << 8);
  if (length >= SPORE_DEVICE_CONFIG_MAX_BYTES || length > record_bytes - kConfigRecordHeaderBytes) return false;
  const std::string_view candidate(reinterpret_cast<const char*>(record + kConfigRecordHeaderBytes), length);
  uint8_t check[4];
  text_check(candidate, check);
  if (std::memcmp(check, record + 8, sizeof check) != 0) return false;
  *text = candidate;
  return true;
}

}  // namespace spore
