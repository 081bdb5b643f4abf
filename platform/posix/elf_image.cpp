#include "posix/elf_image.h"

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace spore::posix {

namespace {

/// Where the fields this check reads sit in one ELF class, and how wide the "word" fields
/// (addresses, offsets, sizes) are. Taken from <elf.h>'s structs so nothing is hand-counted.
struct Layout {
  size_t word;
  size_t ehdr, phdr, shdr;
  size_t e_entry, e_phoff, e_shoff, e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
  size_t p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz, p_align;
  size_t sh_type, sh_offset, sh_size, sh_link;
};

#define SPORE_ELF_LAYOUT(W, E, P, S)                                                                            \
  Layout {                                                                                                      \
    W, sizeof(E), sizeof(P), sizeof(S), offsetof(E, e_entry), offsetof(E, e_phoff), offsetof(E, e_shoff),       \
        offsetof(E, e_ehsize), offsetof(E, e_phentsize), offsetof(E, e_phnum), offsetof(E, e_shentsize),        \
        offsetof(E, e_shnum), offsetof(E, e_shstrndx), offsetof(P, p_type), offsetof(P, p_flags),               \
        offsetof(P, p_offset), offsetof(P, p_vaddr), offsetof(P, p_filesz), offsetof(P, p_memsz),               \
        offsetof(P, p_align), offsetof(S, sh_type), offsetof(S, sh_offset), offsetof(S, sh_size),               \
        offsetof(S, sh_link)                                                                                    \
  }
constexpr Layout kLayout32 = SPORE_ELF_LAYOUT(4, Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr);
constexpr Layout kLayout64 = SPORE_ELF_LAYOUT(8, Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr);
#undef SPORE_ELF_LAYOUT

/// The kernel refuses program header tables above 64 KiB (fs/binfmt_elf.c, load_elf_phdrs).
constexpr uint64_t kMaxProgramHeaderBytes = 64 * 1024;
/// The smallest page size of any Linux port: mmap needs offset and address congruent modulo it.
constexpr uint64_t kMinPageBytes = 4096;
/// The kernel's limit for the interpreter path (PATH_MAX).
constexpr uint64_t kMaxInterpreterBytes = 4096;

/// Unsigned integers of the image's byte order. Callers check the range first.
class Reader {
 public:
  Reader(const uint8_t* data, bool msb) : data_(data), msb_(msb) {}
  uint64_t get(uint64_t offset, size_t width) const {
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v = (v << 8) | data_[offset + (msb_ ? i : width - 1 - i)];
    return v;
  }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(get(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(get(offset, 4)); }

 private:
  const uint8_t* data_;
  bool msb_;
};

/// [offset, offset + length) lies within [0, size), without overflow.
bool inside(uint64_t offset, uint64_t length, uint64_t size) { return offset <= size && length <= size - offset; }

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string num(uint64_t v) { return std::to_string(v); }

const char* segment_name(uint32_t type) {
  switch (type) {
    case PT_LOAD: return "PT_LOAD";
    case PT_DYNAMIC: return "PT_DYNAMIC";
    case PT_INTERP: return "PT_INTERP";
    case PT_NOTE: return "PT_NOTE";
    case PT_PHDR: return "PT_PHDR";
    case PT_TLS: return "PT_TLS";
    case PT_GNU_EH_FRAME: return "PT_GNU_EH_FRAME";
    case PT_GNU_STACK: return "PT_GNU_STACK";
    case PT_GNU_RELRO: return "PT_GNU_RELRO";
    default: return "other";
  }
}

const char* class_name(uint8_t c) { return c == ELFCLASS64 ? "64-bit" : c == ELFCLASS32 ? "32-bit" : "unknown-class"; }
const char* order_name(uint8_t d) {
  return d == ELFDATA2LSB ? "little-endian" : d == ELFDATA2MSB ? "big-endian" : "unknown-byte-order";
}

ElfCheck refuse(std::string why) {
  ElfCheck r;
  r.error = std::move(why);
  return r;
}

/// The image under check: its bytes, the layout of its class and a reader of its byte order.
struct Image {
  const uint8_t* data;
  uint64_t size;
  const Layout& L;
  Reader in;
};

/// Identification and ELF header: an executable of this node's class, byte order and machine.
/// "" when it is one.
std::string check_header(const uint8_t* data, uint64_t size, const ElfIdentity& expected) {
  if (size < EI_NIDENT || std::memcmp(data, ELFMAG, SELFMAG) != 0) return "the image does not start with an ELF header";
  const uint8_t cls = data[EI_CLASS], order = data[EI_DATA];
  if (cls != expected.elf_class || order != expected.data) {
    return std::string("the image is a ") + class_name(cls) + " " + order_name(order) + " ELF file, this node runs " +
           class_name(expected.elf_class) + " " + order_name(expected.data) + " executables";
  }
  if (data[EI_VERSION] != EV_CURRENT) {
    return "the image's ELF identification version is " + num(data[EI_VERSION]) + ", not 1";
  }
  const Layout& L = cls == ELFCLASS64 ? kLayout64 : kLayout32;
  if (size < L.ehdr) {
    return "the image is " + num(size) + " bytes, shorter than its ELF header (" + num(L.ehdr) + " bytes)";
  }
  const Reader in(data, order == ELFDATA2MSB);
  const uint16_t type = in.u16(offsetof(Elf64_Ehdr, e_type));
  const uint16_t machine = in.u16(offsetof(Elf64_Ehdr, e_machine));
  if (machine != expected.machine) {
    return std::string("the image is an executable for ") + elf_machine_name(machine) + " (e_machine " + num(machine) +
           "), this node runs " + elf_machine_name(expected.machine) + " (e_machine " + num(expected.machine) + ")";
  }
  if (type != ET_EXEC && type != ET_DYN) {
    return "the image is an ELF file but not an executable (e_type " + num(type) + ")";
  }
  if (in.u32(offsetof(Elf64_Ehdr, e_version)) != EV_CURRENT) return "the image's e_version is not 1";
  if (in.u16(L.e_ehsize) != L.ehdr) {
    return "the image's ELF header says it is " + num(in.u16(L.e_ehsize)) + " bytes, not " + num(L.ehdr);
  }
  return {};
}

/// Program headers and segments: a table the kernel loads, segments inside the image that it
/// can map, one interpreter at most, the entry point in executable code. Sets `out`'s entry,
/// has_interpreter and required_bytes (so far). "" when all hold.
std::string check_segments(const Image& im, ElfCheck* out) {
  const Layout& L = im.L;
  const Reader& in = im.in;
  const uint64_t size = im.size;
  const uint64_t entry = in.get(L.e_entry, L.word);
  const uint64_t phoff = in.get(L.e_phoff, L.word);
  const uint16_t phnum = in.u16(L.e_phnum);
  const uint16_t phentsize = in.u16(L.e_phentsize);
  if (phnum == 0) return "the image has no program headers: there is nothing to load";
  if (phentsize != L.phdr) {
    return "the image's program headers are " + num(phentsize) + " bytes each, not " + num(L.phdr);
  }
  const uint64_t ph_bytes = uint64_t{phnum} * phentsize;
  if (ph_bytes > kMaxProgramHeaderBytes) {
    return "the image's program header table is " + num(ph_bytes) + " bytes, above the kernel's 64 KiB";
  }
  if (!inside(phoff, ph_bytes, size)) {
    return "the image's program header table (at byte " + num(phoff) + ", " + num(ph_bytes) +
           " bytes) lies beyond the image's " + num(size) + " bytes";
  }
  uint64_t required = std::max<uint64_t>(L.ehdr, phoff + ph_bytes);
  const uint64_t word_max = L.word == 8 ? UINT64_MAX : UINT32_MAX;
  size_t loads = 0, interpreters = 0;
  bool entry_in_code = false;
  for (uint16_t i = 0; i < phnum; ++i) {
    const uint64_t at = phoff + uint64_t{i} * phentsize;
    const uint32_t p_type = in.u32(at + L.p_type);
    if (p_type == PT_NULL) continue;
    const uint32_t flags = in.u32(at + L.p_flags);
    const uint64_t offset = in.get(at + L.p_offset, L.word);
    const uint64_t vaddr = in.get(at + L.p_vaddr, L.word);
    const uint64_t filesz = in.get(at + L.p_filesz, L.word);
    const uint64_t memsz = in.get(at + L.p_memsz, L.word);
    const uint64_t align = in.get(at + L.p_align, L.word);
    const std::string which = "segment " + num(i) + " (" + segment_name(p_type) + ")";
    if (filesz > 0) {
      if (!inside(offset, filesz, size)) {
        return which + " holds bytes " + num(offset) + ".." +
               (offset > UINT64_MAX - filesz ? "overflow" : num(offset + filesz)) + ", beyond the image's " +
               num(size) + " bytes";
      }
      required = std::max(required, offset + filesz);
    }
    if (filesz > memsz) {
      return which + " has more file bytes (" + num(filesz) + ") than memory bytes (" + num(memsz) + ")";
    }
    if (vaddr > word_max - memsz) return which + " ends beyond the top of the address space";
    if (p_type == PT_LOAD) {
      ++loads;
      if (align > 1 && (align & (align - 1)) != 0) {
        return which + " has an alignment of " + num(align) + ", not a power of two";
      }
      if (vaddr % kMinPageBytes != offset % kMinPageBytes) {
        return which + " cannot be mapped: its file offset " + hex(offset) + " and address " + hex(vaddr) +
               " differ modulo the page size";
      }
      if ((flags & PF_X) != 0 && entry >= vaddr && entry - vaddr < filesz) entry_in_code = true;
    } else if (p_type == PT_INTERP) {
      if (++interpreters > 1) return "the image names more than one program interpreter (PT_INTERP)";
      if (filesz < 2 || filesz > kMaxInterpreterBytes) {
        return "the image's program interpreter path is " + num(filesz) + " bytes, not 2.." + num(kMaxInterpreterBytes);
      }
      if (im.data[offset + filesz - 1] != 0) return "the image's program interpreter path is not NUL-terminated";
    }
  }
  if (loads == 0) return "the image has no loadable segment (PT_LOAD)";
  if (!entry_in_code) return "the image's entry point " + hex(entry) + " is not inside an executable loadable segment";
  out->entry = entry;
  out->has_interpreter = interpreters > 0;
  out->required_bytes = required;
  return {};
}

/// Section headers: not needed to run, but a table that lies beyond the end means the file was
/// cut (linkers put it last). Raises `*required` to the table's and the sections' end. "" when
/// the table and every section with file bytes lie inside the image.
std::string check_sections(const Image& im, uint64_t* required) {
  const Layout& L = im.L;
  const Reader& in = im.in;
  const uint64_t size = im.size;
  const uint64_t shoff = in.get(L.e_shoff, L.word);
  if (shoff == 0) return {};
  const uint16_t shentsize = in.u16(L.e_shentsize);
  if (shentsize != L.shdr) {
    return "the image's section headers are " + num(shentsize) + " bytes each, not " + num(L.shdr);
  }
  uint64_t count = in.u16(L.e_shnum);
  uint64_t strndx = in.u16(L.e_shstrndx);
  if (count == 0 || strndx == SHN_XINDEX) {
    // Extended numbering: section 0 holds the real count (sh_size) and index (sh_link).
    if (!inside(shoff, L.shdr, size)) {
      return "the image's section header table (at byte " + num(shoff) + ") lies beyond the image's " + num(size) +
             " bytes";
    }
    if (count == 0) count = in.get(shoff + L.sh_size, L.word);
    if (strndx == SHN_XINDEX) strndx = in.u32(shoff + L.sh_link);
    if (count == 0) return "the image's section header table has no entries";
  }
  if (count > size / L.shdr || !inside(shoff, count * L.shdr, size)) {
    return "the image's section header table (at byte " + num(shoff) + ", " + num(count) +
           " entries) lies beyond the image's " + num(size) + " bytes";
  }
  *required = std::max(*required, shoff + count * L.shdr);
  if (strndx != SHN_UNDEF && strndx >= count) {
    return "the image's section name table index " + num(strndx) + " is not below its " + num(count) + " sections";
  }
  for (uint64_t k = 0; k < count; ++k) {
    const uint64_t at = shoff + k * L.shdr;
    const uint32_t sh_type = in.u32(at + L.sh_type);
    if (sh_type == SHT_NULL || sh_type == SHT_NOBITS) continue;
    const uint64_t offset = in.get(at + L.sh_offset, L.word);
    const uint64_t bytes = in.get(at + L.sh_size, L.word);
    if (bytes == 0) continue;
    if (!inside(offset, bytes, size)) {
      return "section " + num(k) + " holds bytes from " + num(offset) + " (" + num(bytes) +
             " bytes), beyond the image's " + num(size) + " bytes";
    }
    *required = std::max(*required, offset + bytes);
  }
  return {};
}

}  // namespace

ElfIdentity host_elf_identity() {
  ElfIdentity id;
  id.elf_class = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
  id.data = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
#if defined(__x86_64__)
  id.machine = EM_X86_64;
#elif defined(__aarch64__)
  id.machine = EM_AARCH64;
#elif defined(__arm__)
  id.machine = EM_ARM;
#elif defined(__i386__)
  id.machine = EM_386;
#elif defined(__riscv)
  id.machine = EM_RISCV;
#endif
  return id;
}

bool read_elf_identity(const uint8_t* head, size_t size, ElfIdentity* out) {
  if (head == nullptr || size < 20 || std::memcmp(head, ELFMAG, SELFMAG) != 0) return false;
  const uint8_t c = head[EI_CLASS], d = head[EI_DATA];
  if ((c != ELFCLASS32 && c != ELFCLASS64) || (d != ELFDATA2LSB && d != ELFDATA2MSB)) return false;
  out->elf_class = c;
  out->data = d;
  out->machine = Reader(head, d == ELFDATA2MSB).u16(18);
  return true;
}

const char* elf_machine_name(uint16_t machine) {
  switch (machine) {
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "aarch64";
    case EM_RISCV: return "riscv";
    case 94: return "xtensa";  // EM_XTENSA, an ESP8266 ELF
    default: return "other";
  }
}

ElfCheck check_elf_image(const uint8_t* data, size_t size_bytes, const ElfIdentity& expected) {
  const uint64_t size = data == nullptr ? 0 : size_bytes;
  std::string why = check_header(data, size, expected);
  if (!why.empty()) return refuse(std::move(why));
  const Image im{data, size, data[EI_CLASS] == ELFCLASS64 ? kLayout64 : kLayout32,
                 Reader(data, data[EI_DATA] == ELFDATA2MSB)};
  ElfCheck ok;
  why = check_segments(im, &ok);
  if (why.empty()) why = check_sections(im, &ok.required_bytes);
  if (!why.empty()) return refuse(std::move(why));
  ok.ok = true;
  return ok;
}

}  // namespace spore::posix
