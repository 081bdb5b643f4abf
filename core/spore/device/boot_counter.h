#pragma once
/// @file boot_counter.h
/// The boot count of a device without a clock that survives restarts: a counter raised once per
/// boot and kept in NOR flash as an append-only log, so that a boot costs one 8-byte program and a
/// sector is erased only once every kBootLogEntriesPerSector boots. Membership needs an
/// incarnation that grows on every restart so that peers tell a restarted node from a stale
/// datagram of its previous life: incarnation_for_boot(count) (incarnation.h), the same scheme as
/// spored's, which wraps every 65,536 boots and is compared with serial arithmetic. The count
/// itself stops at kBootCountMax (4,294,967,294 boots; the log's two sectors would have been
/// erased ~4.2 million times each by then, far beyond the flash's rated ~100,000 cycles), so it
/// never needs to wrap.
///
/// Why a log: the first firmware rewrote 8 bytes of the EEPROM sector with EEPROM.commit(), which
/// erases the whole sector on every boot (a restart loop wears it out in days), starts the count
/// again at 1 after a power cut between that erase and the write, and blanks the sector's other
/// 4,088 bytes.
///
/// Layout: two sectors of kBootLogSectorBytes, used in turn (ping-pong). Each holds, little-endian:
///
///     offset 0    header  "SPBL" (0x4C425053), then its bitwise complement
///     offset 8    entries of 8 bytes: the count c (1 .. kBootCountMax), then ~c
///     ...         up to offset kBootLogSectorBytes; erased slots read 0xFF
///
/// Entries are only appended, so a program only clears bits. A word and its complement have 32
/// zero bits between them: a program or an erase cut short changes bits in one direction only and
/// can never leave a pair that checks but was not written, so a torn header or entry is seen as
/// such and skipped. The count is the largest valid entry of both sectors. When the sector that
/// holds it is full, the other one is erased and started: the erase never touches the last value,
/// so a power cut at any step leaves a count no lower than the last boot's.
///
/// The first boot of a log reads the counter the EEPROM firmware left (legacy_boot_count()) and
/// continues from it; the EEPROM bytes are never written again.

#include <cstddef>
#include <cstdint>

namespace spore {

/// Bytes of the record the first firmware kept in the EEPROM sector: magic 0x53504231 ("1BPS" in
/// memory), then the counter, both little-endian.
constexpr size_t kBootCounterBytes = 8;

/// The counter in the EEPROM firmware's record, 0 when the bytes are not one (erased flash reads
/// 0xFF; another sketch's data). Read once, when the log is still empty.
uint32_t legacy_boot_count(const uint8_t (&record)[kBootCounterBytes]);

/// The flash erase unit the log is laid out in.
constexpr uint32_t kBootLogSectorBytes = 4096;
/// Bytes of one entry and of the sector header.
constexpr uint32_t kBootLogEntryBytes = 8;
/// Boots one sector records; one erase per this many boots.
constexpr uint32_t kBootLogEntriesPerSector = kBootLogSectorBytes / kBootLogEntryBytes - 1;
/// The count stops here (one boot a second for 136 years): 0xFFFFFFFF is erased flash, and a
/// count that wrapped to 1 would be read as lower than the last one.
constexpr uint32_t kBootCountMax = 0xFFFFFFFEu;

/// The two flash sectors of the log (0 and 1), with NOR semantics: program() can only clear bits,
/// erase() sets a whole sector to 0xFF. Offsets and sizes are multiples of 4 (the ESP8266 reads
/// and writes flash in aligned 32-bit words). Each call returns false when the flash refused.
class BootLogFlash {
 public:
  virtual bool read(uint8_t sector, uint32_t offset, uint8_t* out, size_t size_bytes) = 0;
  virtual bool program(uint8_t sector, uint32_t offset, const uint8_t* data, size_t size_bytes) = 0;
  virtual bool erase(uint8_t sector) = 0;

 protected:
  ~BootLogFlash() = default;
};

/// What one sector holds, from scan_boot_log_sector().
struct BootLogSector {
  enum class State : uint8_t {
    kBlank,    ///< every byte 0xFF: can be started without an erase
    kLog,      ///< a valid header: entries may be appended at `next_offset`
    kForeign,     ///< neither (another use, a torn header, an erase cut short): erase before use
    kReadFailed,  ///< the flash refused a read: what it holds is unknown, so it is never erased
  };
  State state = State::kForeign;
  uint32_t max_count = 0;    ///< the largest valid entry; 0 = none (kLog only)
  uint32_t next_offset = 0;  ///< first slot after the last non-blank one; kBootLogSectorBytes = full
};

/// Reads one sector of `flash` in small pieces (no 4 KB buffer) and classifies it. A read error
/// makes the sector kReadFailed (not kForeign: it may hold the last count).
BootLogSector scan_boot_log_sector(BootLogFlash& flash, uint8_t sector);

/// The same over a sector already in memory (`bytes` = kBootLogSectorBytes): the fuzz target's
/// and the tests' entry point; scan_boot_log_sector() feeds it piece by piece.
BootLogSector scan_boot_log_bytes(const uint8_t* bytes, size_t size_bytes);

/// The largest count in the log, 0 when it holds none.
uint32_t read_boot_count(BootLogFlash& flash);

/// What next_boot_count() did.
struct BootCount {
  uint32_t count = 0;        ///< this boot's count, >= 1 (incarnation_for_boot() makes the incarnation)
  bool saved = false;        ///< the entry was programmed (false: the flash refused; the count is used anyway)
  bool erased = false;       ///< a sector was erased to make room
  bool migrated = false;     ///< the log was empty and continued from `legacy_count`
};

/// Appends the next count and returns it: one more than the largest in the log (or than
/// `legacy_count` when the log is empty; 1 when both are 0), at most kBootCountMax. When the
/// sector holding the largest count is full, the other sector is erased (unless blank) and
/// started. A count is returned also when the flash refused the write: the node must run; its
/// next boot may then repeat this count (logged by the caller).
///
/// When a sector cannot be read it may hold counts up to kBootLogEntriesPerSector above the other
/// one's: nothing is erased, and the count is the largest known one (the other sector's, else
/// `legacy_count`) plus kBootLogEntriesPerSector, so it does not go backwards. It is appended to
/// the readable sector when that one has room, else saved nowhere (`saved` false). Erasing
/// instead could destroy the sector that holds the last count.
BootCount next_boot_count(BootLogFlash& flash, uint32_t legacy_count);

}  // namespace spore
