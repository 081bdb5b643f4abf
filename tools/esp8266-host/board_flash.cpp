// The emulated board's 1 MB SPI flash (a file, mapped shared so a restart or a kill keeps what was
// written), the SDK's flash and parameter-sector calls over it, the chip's RTC memory, and what
// eboot does at boot. Flash behaves as NOR flash: erase sets a 4 KB sector to 0xFF, a write can
// only clear bits (the stored word is old AND new), and the SDK's calls refuse what the core
// expects them to refuse (see spi_flash_read and spi_flash_write below).
#include <Arduino.h>
#include <eboot_command.h>
#include <spi_flash.h>
#include <user_interface.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "board.h"
#include "spore/device/esp_image.h"

namespace {

uint8_t* flash_ = nullptr;
constexpr uint32_t kSectorBytes = 4096;
// The chip's peripheral window, mapped so that code which addresses RTC memory directly (the
// core's eboot_command.cpp: RTC_MEM at 0x60001200) runs unchanged. RTC memory is 0x60001100..
// 0x60001400 (768 B: 64 system blocks, 128 user blocks of 4 B).
constexpr uintptr_t kPeripheralBase = 0x60000000;
constexpr size_t kPeripheralBytes = 0x2000;
constexpr uintptr_t kRtcMemBase = 0x60001100;
constexpr size_t kRtcMemBytes = 768;
char rtc_path_[512];

bool aligned(uint32_t v) { return (v & 3u) == 0; }

}  // namespace

bool board_flash_open(const char* path, const char* image_path) {
  const int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "board: cannot open flash file %s: %s\n", path, std::strerror(errno));
    return false;
  }
  struct stat st {};
  fstat(fd, &st);
  const bool fresh = st.st_size == 0;
  if (fresh || st.st_size != kBoardFlashBytes) {
    if (!fresh) {
      std::fprintf(stderr, "board: flash file %s is %lld B, not %u\n", path, static_cast<long long>(st.st_size),
                   kBoardFlashBytes);
      close(fd);
      return false;
    }
    if (ftruncate(fd, kBoardFlashBytes) != 0) return false;
  }
  void* m = mmap(nullptr, kBoardFlashBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return false;
  flash_ = static_cast<uint8_t*>(m);
  if (fresh) {
    // A new chip: erased, then the image written at 0 as esptool would.
    std::memset(flash_, 0xFF, kBoardFlashBytes);
    if (image_path != nullptr) {
      FILE* f = std::fopen(image_path, "rb");
      if (f == nullptr) {
        std::fprintf(stderr, "board: cannot open image %s\n", image_path);
        return false;
      }
      const size_t n = std::fread(flash_, 1, kBoardFlashBytes / 2, f);
      std::fclose(f);
      std::fprintf(stderr, "board: flash %s created, image %s (%zu B) written at 0\n", path, image_path, n);
    }
  }
  std::snprintf(rtc_path_, sizeof rtc_path_, "%s.rtc", path);
  void* p = mmap(reinterpret_cast<void*>(kPeripheralBase), kPeripheralBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != reinterpret_cast<void*>(kPeripheralBase)) {
    std::fprintf(stderr, "board: cannot map the peripheral window at 0x%08lx\n", static_cast<unsigned long>(kPeripheralBase));
    return false;
  }
  return true;
}

// RTC memory survives a software restart and a watchdog reset, not a power cycle: the bed keeps
// it in a file across the restarts it performs (warm) and starts without it otherwise.
void board_rtc_load(bool warm) {
  auto* rtc = reinterpret_cast<uint8_t*>(kRtcMemBase);
  if (warm) {
    const int fd = open(rtc_path_, O_RDONLY);
    const bool ok = fd >= 0 && read(fd, rtc, kRtcMemBytes) == static_cast<ssize_t>(kRtcMemBytes);
    if (fd >= 0) close(fd);
    if (ok) return;
  }
  // After a power-on RTC memory holds whatever the cells settled to, not zeros: code that trusts
  // zeros must fail here as on a board.
  if (getrandom(rtc, kRtcMemBytes, 0) != static_cast<ssize_t>(kRtcMemBytes)) std::memset(rtc, 0xA5, kRtcMemBytes);
}

// Called by board_reset, possibly from the watchdog's thread: open/write/close only, no stdio.
void board_rtc_save() {
  const int fd = open(rtc_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  (void)!write(fd, reinterpret_cast<const void*>(kRtcMemBase), kRtcMemBytes);
  close(fd);
}

extern "C" {

uint32 spi_flash_get_id(void) { return 0x001440E0; }  // 1 MB (size code 0x14), a common ESP-01 part

SpiFlashOpResult spi_flash_erase_sector(uint16 sec) {
  if (flash_ == nullptr || (sec + 1u) * kSectorBytes > kBoardFlashBytes) return SPI_FLASH_RESULT_ERR;
  std::memset(flash_ + sec * kSectorBytes, 0xFF, kSectorBytes);
  return SPI_FLASH_RESULT_OK;
}

SpiFlashOpResult spi_flash_write(uint32 des_addr, uint32* src_addr, uint32 size) {
  if (flash_ == nullptr || !aligned(des_addr) || !aligned(size) || des_addr + size > kBoardFlashBytes ||
      des_addr + size < des_addr)
    return SPI_FLASH_RESULT_ERR;
  const auto* src = reinterpret_cast<const uint8_t*>(src_addr);
  for (uint32_t i = 0; i < size; ++i) flash_[des_addr + i] &= src[i];  // NOR: bits only clear
  return SPI_FLASH_RESULT_OK;
}

// Reads take any flash address (the core's EspClass::getSketchSize() walks the image's segments,
// whose sizes need not be multiples of 4, with spi_flash_read at the unaligned offsets), but the
// buffer and the size must be word-aligned (EspClass::flashRead checks those two, not the address).
SpiFlashOpResult spi_flash_read(uint32 src_addr, uint32* des_addr, uint32 size) {
  if (flash_ == nullptr || !aligned(reinterpret_cast<uintptr_t>(des_addr)) || !aligned(size) ||
      src_addr + size > kBoardFlashBytes ||
      src_addr + size < src_addr)
    return SPI_FLASH_RESULT_ERR;
  std::memcpy(des_addr, flash_ + src_addr, size);
  return SPI_FLASH_RESULT_OK;
}

// The core wraps spi_flash_read (-Wl,-wrap on the chip, core_esp8266_flash_quirks); the bed calls
// the SDK's directly.

// system_param_save_with_protect: the SDK keeps two copies in sectors start_sec and start_sec + 1
// and a flag in start_sec + 2 that names the valid one, so a power loss during a save leaves the
// previous copy. The flag here is one word (0 or 1); the SDK's own sector format is not reproduced.
bool system_param_save_with_protect(uint16 start_sec, void* param, uint16 len) {
  if (len > kSectorBytes || !aligned(len) || !aligned(reinterpret_cast<uintptr_t>(param))) return false;
  uint32_t flag = 0xFFFFFFFF;
  if (spi_flash_read((start_sec + 2u) * kSectorBytes, &flag, 4) != SPI_FLASH_RESULT_OK) return false;
  const uint32_t next = flag == 0 ? 1 : 0;
  if (spi_flash_erase_sector(static_cast<uint16>(start_sec + next)) != SPI_FLASH_RESULT_OK) return false;
  if (spi_flash_write((start_sec + next) * kSectorBytes, static_cast<uint32*>(param), len) != SPI_FLASH_RESULT_OK)
    return false;
  if (spi_flash_erase_sector(static_cast<uint16>(start_sec + 2u)) != SPI_FLASH_RESULT_OK) return false;
  uint32_t word = next;
  return spi_flash_write((start_sec + 2u) * kSectorBytes, &word, 4) == SPI_FLASH_RESULT_OK;
}

bool system_param_load(uint16 start_sec, uint16 offset, void* param, uint16 len) {
  if (offset + len > kSectorBytes || !aligned(offset) || !aligned(len)) return false;
  uint32_t flag = 0xFFFFFFFF;
  if (spi_flash_read((start_sec + 2u) * kSectorBytes, &flag, 4) != SPI_FLASH_RESULT_OK) return false;
  const uint32_t valid = flag == 1 ? 1 : 0;
  return spi_flash_read((start_sec + valid) * kSectorBytes + offset, static_cast<uint32*>(param), len) ==
         SPI_FLASH_RESULT_OK;
}

bool system_rtc_mem_read(uint8 src_addr, void* des_addr, uint16 load_size) {
  if (src_addr * 4u + load_size > kRtcMemBytes) return false;
  std::memcpy(des_addr, reinterpret_cast<const uint8_t*>(kRtcMemBase) + src_addr * 4u, load_size);
  return true;
}

bool system_rtc_mem_write(uint8 des_addr, const void* src_addr, uint16 save_size) {
  if (des_addr < 64 || des_addr * 4u + save_size > kRtcMemBytes) return false;  // system blocks are the SDK's
  std::memcpy(reinterpret_cast<uint8_t*>(kRtcMemBase) + des_addr * 4u, src_addr, save_size);
  return true;
}

}  // extern "C"

// eboot (bootloaders/eboot/eboot.c): a valid ACTION_COPY_RAW command copies args[2] bytes from
// args[0] to args[1], sector by sector, then the command is cleared and the app starts. The bed
// runs the same host program afterwards: only the flash contents change (docs/esp8266-runtime.md).
namespace {
// What the ROM and eboot check before they start the app: the image at 0 (eboot, padded to 4 KB,
// then the app at 0x1000 as elf2bin.py lays it out) walks cleanly: magic, segments, checksum,
// and the CRC elf2bin records. The app's length is found as EspClass::getSketchSize() finds it.
bool bootable_image(const char** why) {
  uint32_t pos = 0x1000;
  if (flash_[pos] != 0xE9) {
    *why = "no image magic at 0x1000";
    return false;
  }
  const uint8_t segments = flash_[pos + 1];
  pos += 8;
  for (uint8_t i = 0; i < segments && pos + 8 <= kBoardFlashBytes; ++i) {
    uint32_t size = 0;
    std::memcpy(&size, flash_ + pos + 4, 4);
    pos += 8 + size;
  }
  const uint32_t end = (pos + 16) & ~15u;
  if (end > kBoardFlashBytes) {
    *why = "segments run past the flash";
    return false;
  }
  spore::EspImageWalker walker;
  walker.begin(false);
  walker.feed(flash_, end);
  const spore::EspImageError e = walker.finish();
  if (e == spore::EspImageError::kOk) return true;
  static char msg[96];
  spore::esp_image_error_message(e).copy_to(msg, sizeof msg);
  *why = msg;
  return false;
}
}  // namespace

void board_eboot() {
  eboot_command cmd{};
  if (eboot_command_read(&cmd) == 0 && cmd.action == ACTION_COPY_RAW) {
    const uint32_t src = cmd.args[0], dst = cmd.args[1], size = cmd.args[2];
    // eboot.c copy_raw: both addresses sector-aligned, or nothing is copied.
    if (src + size <= kBoardFlashBytes && dst + size <= kBoardFlashBytes && (src % kSectorBytes) == 0 &&
        (dst % kSectorBytes) == 0) {
      // Sector by sector through a buffer, as eboot does (its copy_raw reads before it erases),
      // so that a copy onto itself keeps the data.
      static uint8_t sector[kSectorBytes];
      for (uint32_t off = 0; off < size; off += kSectorBytes) {
        const uint32_t n = size - off < kSectorBytes ? size - off : kSectorBytes;
        std::memcpy(sector, flash_ + src + off, n);
        spi_flash_erase_sector(static_cast<uint16>((dst + off) / kSectorBytes));
        std::memcpy(flash_ + dst + off, sector, n);
      }
      std::fprintf(stderr, "board: eboot copied %u B from 0x%x to 0x%x\n", size, src, dst);
    }
    eboot_command_clear();
  }
  const char* why = "";
  if (!bootable_image(&why)) {
    // A chip stops in the ROM or eboot here, printing to the serial port, and never runs the app.
    std::fprintf(stderr, "board: the flash holds no bootable image (%s): the board does not start\n", why);
    std::exit(3);
  }
}
