#pragma once
/// @file elf_image.h
/// Structure check of a whole ELF executable before a Linux node installs it (docs/ota.md,
/// "Linux: proven before the switch"). Pure C++ over bytes (no file, no syscall), so the fuzz
/// target (tests/fuzz/elf_image_fuzz.cpp) drives exactly what ExecutableFlashTarget::commit() runs.
///
/// What check_elf_image() requires, in this order (the first failure is the answer):
///  - the identity of the running executable: magic, class (32/64-bit), byte order, EI_VERSION,
///    e_machine; e_version current; e_type ET_EXEC or ET_DYN (PIE);
///  - header sizes as the class defines them (e_ehsize, e_phentsize, and e_shentsize when there
///    are sections);
///  - the program header table inside the file, at most 64 KiB (the kernel's own limit);
///  - every segment's file bytes (p_offset + p_filesz) inside the file, p_filesz <= p_memsz, no
///    address overflow; PT_LOAD: p_align 0 or a power of two, p_offset and p_vaddr congruent
///    modulo 4096 (otherwise the loader cannot mmap it);
///  - at least one PT_LOAD, and the entry point inside the file bytes of a PT_LOAD with PF_X;
///  - at most one PT_INTERP, inside the file, 2..4096 bytes, NUL-terminated;
///  - when e_shoff != 0: the section header table inside the file (extended numbering through
///    section 0 understood), e_shstrndx a valid index, every section but SHT_NOBITS / SHT_NULL
///    inside the file.
/// Bytes after the last structure are allowed (a padded or signed image still runs).
///
/// Guarantees: reads only data[0, size); never allocates except for the error sentence; the
/// result depends on nothing but the arguments. For an accepted image, every prefix shorter than
/// ElfCheck::required_bytes is refused and the prefix of exactly required_bytes is accepted.

#include <cstddef>
#include <cstdint>
#include <string>

namespace spore::posix {

/// What an image must match: the running executable's EI_CLASS, EI_DATA and e_machine.
struct ElfIdentity {
  uint8_t elf_class = 0;  ///< ELFCLASS32 / ELFCLASS64
  uint8_t data = 0;       ///< ELFDATA2LSB / ELFDATA2MSB
  uint16_t machine = 0;   ///< EM_*
};

/// The identity this program was compiled for (what /proc/self/exe carries).
ElfIdentity host_elf_identity();

/// The identity in the first bytes of an ELF file (at least 20), or false when `head` does not
/// start with a 32- or 64-bit ELF header of either byte order.
bool read_elf_identity(const uint8_t* head, size_t size, ElfIdentity* out);

/// "x86-64", "aarch64", ... for a few known e_machine values, else "other".
const char* elf_machine_name(uint16_t machine);

struct ElfCheck {
  bool ok = false;
  /// One sentence saying what is wrong, empty when ok.
  std::string error;
  /// When ok: the end of the furthest structure checked (header tables, segment and section
  /// bytes), i.e. the shortest prefix that still passes.
  uint64_t required_bytes = 0;
  uint64_t entry = 0;  ///< e_entry, when ok
  bool has_interpreter = false;  ///< a PT_INTERP (dynamically linked), when ok
};

/// Checks the whole image `data[0, size)` against `expected` (see the file comment).
ElfCheck check_elf_image(const uint8_t* data, size_t size, const ElfIdentity& expected);

}  // namespace spore::posix
