#include "esp8266/updater_flash_target.h"

#include <Arduino.h>
#include <StackThunk.h>
#include <Updater.h>
// The sketch's signing header when the Arduino IDE generated one (platform.txt runs signing.py
// into {build.path}/core/Updater_Signing.h, first on the include path), else the core's default,
// which says ARDUINO_SIGNING 0 (cores/esp8266/Updater_Signing.h). PlatformIO's build script
// generates none.
#include <Updater_Signing.h>

#include "spore/device/esp_flash.h"
#include "spore/node/node_context.h"

#if ARDUINO_SIGNING
// A public.key in the sketch folder makes the Arduino IDE build the core's own signature check
// into Update (Updater.cpp 17-44): it would check every image's trailer against that key after
// SPORE's checks, with its own answer (SPORE's key strips the trailer, so every update would end
// in flash_commit), and its stack thunk holds 6,200 B of heap for ever. SPORE verifies signatures
// itself, before anything is installed, with the error codes of docs/ota.md.
#error "SPORE: remove public.key from the sketch folder (it turns on the ESP8266 core's own update signing, which fails every SPORE OTA) and give its text to SPORE instead: -DSPORE_OTA_PUBLIC_KEY_PEM (docs/ota.md §2)"
#endif

// BearSSL's RSA verification on the core's second stack (StackThunk.h: make_stack_thunk swaps the
// stack pointer to the 6,200-byte block stack_thunk_add_ref() allocated, calls the function
// with its arguments untouched in a2..a7, checks the block's canary and swaps back), as the core
// runs its own update signature check (libraries/ESP8266WiFi/src/BearSSLHelpers.cpp 936-970,
// SigningVerifier_verify). Six arguments: all in registers, as the thunk requires.
extern "C" uint32_t spore_rsa_pkcs1_vrfy(const unsigned char* x, size_t xlen, const unsigned char* hash_oid,
                                         size_t hash_len, const br_rsa_public_key* pk, unsigned char* hash_out) {
  return br_rsa_pkcs1_vrfy_get_default()(x, xlen, hash_oid, hash_len, pk, hash_out);
}
make_stack_thunk(spore_rsa_pkcs1_vrfy);
extern "C" uint32_t thunk_spore_rsa_pkcs1_vrfy(const unsigned char* x, size_t xlen, const unsigned char* hash_oid,
                                               size_t hash_len, const br_rsa_public_key* pk, unsigned char* hash_out);

namespace spore::esp8266 {

namespace {

// StackThunk.cpp's _stackSize (6200 / 4 words); the core does not export it.
constexpr uint32_t kStackThunkBytes = 6200;
// Taken before Update.begin(), which then allocates its buffer (Updater.cpp 172-181: one 4 KB
// sector when more than two sectors of heap are free, else 256 B; new (std::nothrow)): a block
// this large still leaves a sector and a little more once the thunk's stack is carved from it.
constexpr uint32_t kStackThunkMinFreeBlockBytes = kStackThunkBytes + kEspFlashSectorBytes + 512;

// Update.end(true)'s read-back goes through these (Update.installSignature()): the hash is the
// check, the verifier its verdict, with no signature expected (length() 0: Updater.cpp 246-262).
class ReadBackHash final : public UpdaterHashClass {
 public:
  explicit ReadBackHash(EspStagedImageCheck& check) : check_(check) {}
  void begin() override {}  // commit() began the check with the expected digest
  void add(const void* data, uint32_t len) override { check_.update(static_cast<const uint8_t*>(data), len); }
  // ReadBackVerify decides; the digest is for the Updater's DEBUG_UPDATER print (Updater.cpp 290-302).
  void end() override { check_.digest(digest_); }
  int len() override { return sizeof digest_; }
  const void* hash() override { return digest_; }
  const unsigned char* oid() override { return BR_HASH_OID_SHA256; }

 private:
  EspStagedImageCheck& check_;
  uint8_t digest_[32] = {};
};

class ReadBackVerify final : public UpdaterVerifyClass {
 public:
  explicit ReadBackVerify(const EspStagedImageCheck& check) : check_(check) {}
  uint32_t length() override { return 0; }
  bool verify(UpdaterHashClass*, const void*, uint32_t) override { return check_.matches(); }

 private:
  const EspStagedImageCheck& check_;
};

}  // namespace

bool UpdaterFlashTarget::take_stack() {
  // stack_thunk_add_ref() calls abort() (a reset) when its malloc fails: ask first, unless the
  // stack exists already (someone holds a reference).
  if (stack_thunk_get_refcnt() == 0 && ESP.getMaxFreeBlockSize() < kStackThunkMinFreeBlockBytes) return false;
  stack_thunk_add_ref();
  return true;
}

uint32_t UpdaterFlashTarget::rsa_verify(const unsigned char* x, size_t xlen, const unsigned char* hash_oid,
                                        size_t hash_len, const br_rsa_public_key* pk, unsigned char* hash_out) {
  // begin() reserved the stack for a keyed upload (set_needs_rsa_stack()); a key set some other
  // way gets it for the call, or a refusal (0: not verified) when the heap cannot hold it.
  if (!take_stack()) return 0;
  const uint32_t ok = thunk_spore_rsa_pkcs1_vrfy(x, xlen, hash_oid, hash_len, pk, hash_out);
  stack_thunk_del_ref();
  return ok;
}

size_t UpdaterFlashTarget::capacity_bytes() const { return esp_ota_capacity_bytes(ESP.getFreeSketchSpace()); }

bool UpdaterFlashTarget::check_magic(const uint8_t* head, size_t size) const { return esp_image_magic_ok(head, size); }

void UpdaterFlashTarget::release_stack() {
  if (!stack_held_) return;
  stack_held_ = false;
  stack_thunk_del_ref();  // frees the block when nobody else holds it
}

bool UpdaterFlashTarget::begin(size_t max_image_bytes) {
  if (running_) abort();
  last_error_ = 0;
  const size_t begin_bytes = esp_updater_begin_bytes(max_image_bytes, capacity_bytes());
  if (begin_bytes == 0) return false;
  if (needs_rsa_stack_ && !stack_held_) {
    // Before any body byte: a signed upload the heap cannot verify is refused now (flash_begin).
    if (!take_stack()) {
      if (log_ != nullptr) {
        SPORE_LOG(*log_, LogLevel::kError, "OTA: no %lu-byte heap block for the signature check's stack",
                  static_cast<unsigned long>(kStackThunkMinFreeBlockBytes));
      }
      return false;
    }
    stack_held_ = true;
  }
  walker_.begin(trailer_allowed_);
  written_ = 0;
  uploaded_mode_byte_ = 0;
  Update.runAsync(true);
  // One byte more than OtaSession will ever write (esp_updater_begin_bytes()): abort()'s
  // end(false) can then only discard the image, never install it.
  if (!Update.begin(begin_bytes, U_FLASH)) {
    last_error_ = Update.getError();
    Update.clearError();
    release_stack();
    return false;
  }
  running_ = true;
  return true;
}

bool UpdaterFlashTarget::write(const uint8_t* data, size_t size_bytes) {
  if (!running_) return false;
  if (size_bytes == 0) return true;
  // A refused image is never installed: no need to erase and write flash for the rest of it.
  if (!walker_.feed(data, size_bytes)) return true;
  constexpr size_t kMode = EspStagedImageCheck::kFlashModeOffset;
  if (written_ <= kMode && kMode < written_ + size_bytes) uploaded_mode_byte_ = data[kMode - written_];
  written_ += size_bytes;
  // UpdaterClass::write() copies into its own sector buffer; it takes a non-const pointer only
  // for historical reasons.
  if (Update.write(const_cast<uint8_t*>(data), size_bytes) != size_bytes) {
    last_error_ = Update.getError();
    return false;
  }
  return true;
}

OtaError UpdaterFlashTarget::commit(const uint8_t (&sha256)[32]) {
  if (!running_) return OtaError::kFlashCommit;
  // The signature (if any) was verified before commit(): the second stack is not needed again.
  release_stack();
  const EspImageError verdict = walker_.finish();
  if (verdict != EspImageError::kOk) {
    // Before Update.end(): eboot's command is never written. running_ stays set, so OtaSession's
    // abort() resets the Updater.
    if (log_ != nullptr) {
      char why[80];
      esp_image_error_message(verdict).copy_to(why, sizeof why);
      SPORE_LOG(*log_, LogLevel::kError, "OTA: image refused after %lu of %lu bytes: %s",
                static_cast<unsigned long>(walker_.error_offset()), static_cast<unsigned long>(walker_.offset()), why);
    }
    return OtaError::kBadImage;
  }
  running_ = false;
  // end(true) writes its last buffered bytes, reads the staged image back through `check_`
  // (ReadBackHash) and writes eboot's command only if ReadBackVerify says it matches `sha256`.
  check_.begin(sha256, written_, uploaded_mode_byte_, static_cast<uint8_t>(ESP.getFlashChipMode()));
  ReadBackHash hash(check_);
  ReadBackVerify verify(check_);
  Update.installSignature(&hash, &verify);
  const bool ended = Update.end(true);
  Update.installSignature(nullptr, nullptr);  // the two objects end here
  if (!ended) {
    last_error_ = Update.getError();
    Update.clearError();
    if (log_ != nullptr && check_.bytes_read() > 0 && !check_.matches()) {
      SPORE_LOG(*log_, LogLevel::kError, "OTA: the staged image read back (%lu of %lu bytes) is not the upload",
                static_cast<unsigned long>(check_.bytes_read()), static_cast<unsigned long>(written_));
    }
    return OtaError::kFlashCommit;
  }
  return OtaError::kOk;
}

void UpdaterFlashTarget::abort() {
  release_stack();
  if (!running_) return;  // harmless after a failed begin()
  running_ = false;
  // end(false) on an unfinished image (always: begin() asked for one byte more than can come)
  // fails and resets the Updater without writing eboot's command: the running firmware stays.
  // No hash or verifier is installed then (commit() removes them), so it reads nothing back.
  Update.end(false);
  Update.clearError();
}

}  // namespace spore::esp8266
