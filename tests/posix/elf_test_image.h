#pragma once
// Small, valid ELF executables built in memory for the ELF check's tests and fuzz seeds: any
// class and byte order, one PT_LOAD (R+X, with some .bss) holding everything, an optional
// PT_INTERP and an optional section header table (NULL, .text, .shstrtab) at the end, as linkers
// lay them out. The layout is returned with the bytes, so a test can corrupt one field at a time.

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace spore::posix::testing {

struct ElfSpec {
  bool is64 = true;
  bool msb = false;
  uint16_t machine = EM_X86_64;
  uint16_t type = ET_DYN;
  bool interpreter = true;
  bool sections = true;
};

struct ElfTestImage {
  std::vector<uint8_t> bytes;
  ElfSpec spec;
  size_t phoff = 0, phentsize = 0, phnum = 0;
  size_t load_index = 0;    // the PT_LOAD's program header
  size_t interp_index = 0;  // the PT_INTERP's (when spec.interpreter)
  size_t interp_offset = 0, interp_bytes = 0;
  size_t code_offset = 0;
  size_t shoff = 0, shentsize = 0, shnum = 0;
  uint64_t load_vaddr = 0;

  /// Writes `value` as a `width`-byte integer of the image's byte order at `offset`.
  void put(size_t offset, size_t width, uint64_t value) {
    for (size_t i = 0; i < width; ++i) {
      const size_t at = spec.msb ? offset + width - 1 - i : offset + i;
      bytes[at] = static_cast<uint8_t>(value >> (8 * i));
    }
  }
  /// The size in bytes of an address/offset field.
  size_t word() const { return spec.is64 ? 8 : 4; }
  /// Offset of a program header field.
  size_t ph_field(size_t index, size_t off32, size_t off64) const {
    return phoff + index * phentsize + (spec.is64 ? off64 : off32);
  }
  size_t ph_offset(size_t i) const { return ph_field(i, offsetof(Elf32_Phdr, p_offset), offsetof(Elf64_Phdr, p_offset)); }
  size_t ph_vaddr(size_t i) const { return ph_field(i, offsetof(Elf32_Phdr, p_vaddr), offsetof(Elf64_Phdr, p_vaddr)); }
  size_t ph_filesz(size_t i) const { return ph_field(i, offsetof(Elf32_Phdr, p_filesz), offsetof(Elf64_Phdr, p_filesz)); }
  size_t ph_memsz(size_t i) const { return ph_field(i, offsetof(Elf32_Phdr, p_memsz), offsetof(Elf64_Phdr, p_memsz)); }
  size_t ph_flags(size_t i) const { return ph_field(i, offsetof(Elf32_Phdr, p_flags), offsetof(Elf64_Phdr, p_flags)); }
  size_t ph_align(size_t i) const { return ph_field(i, offsetof(Elf32_Phdr, p_align), offsetof(Elf64_Phdr, p_align)); }
  size_t ph_type(size_t i) const { return ph_field(i, 0, 0); }
  /// Offset of an ELF header field.
  size_t eh(size_t off32, size_t off64) const { return spec.is64 ? off64 : off32; }
};

inline ElfTestImage make_elf_test_image(const ElfSpec& spec = {}) {
  ElfTestImage img;
  img.spec = spec;
  const size_t ehdr = spec.is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
  img.phentsize = spec.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
  img.shentsize = spec.is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
  img.phnum = spec.interpreter ? 2 : 1;
  img.phoff = ehdr;
  img.interp_index = 0;
  img.load_index = spec.interpreter ? 1 : 0;
  static const char kInterp[] = "/lib/ld-test.so.1";
  static const char kNames[] = "\0.text\0.shstrtab";  // + the final NUL: 17 bytes
  size_t at = img.phoff + img.phnum * img.phentsize;
  img.interp_offset = at;
  img.interp_bytes = spec.interpreter ? sizeof kInterp : 0;
  at += img.interp_bytes;
  at = (at + 15) & ~size_t{15};
  img.code_offset = at;
  const size_t code_bytes = 16;
  at += code_bytes;
  const size_t names_offset = at;
  at += sizeof kNames;
  at = (at + 7) & ~size_t{7};
  const size_t load_end = spec.sections ? names_offset : img.code_offset + code_bytes;
  img.shoff = spec.sections ? at : 0;
  img.shnum = spec.sections ? 3 : 0;
  img.bytes.assign(spec.sections ? img.shoff + img.shnum * img.shentsize : img.code_offset + code_bytes, 0);

  uint8_t* b = img.bytes.data();
  std::memcpy(b, ELFMAG, SELFMAG);
  b[EI_CLASS] = spec.is64 ? ELFCLASS64 : ELFCLASS32;
  b[EI_DATA] = spec.msb ? ELFDATA2MSB : ELFDATA2LSB;
  b[EI_VERSION] = EV_CURRENT;
  const size_t w = img.word();
  img.load_vaddr = 0x400000;
  img.put(16, 2, spec.type);
  img.put(18, 2, spec.machine);
  img.put(20, 4, EV_CURRENT);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_entry), offsetof(Elf64_Ehdr, e_entry)), w, img.load_vaddr + img.code_offset);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_phoff), offsetof(Elf64_Ehdr, e_phoff)), w, img.phoff);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_shoff), offsetof(Elf64_Ehdr, e_shoff)), w, img.shoff);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_ehsize), offsetof(Elf64_Ehdr, e_ehsize)), 2, ehdr);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_phentsize), offsetof(Elf64_Ehdr, e_phentsize)), 2, img.phentsize);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_phnum), offsetof(Elf64_Ehdr, e_phnum)), 2, img.phnum);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_shentsize), offsetof(Elf64_Ehdr, e_shentsize)), 2,
          spec.sections ? img.shentsize : 0);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_shnum), offsetof(Elf64_Ehdr, e_shnum)), 2, img.shnum);
  img.put(img.eh(offsetof(Elf32_Ehdr, e_shstrndx), offsetof(Elf64_Ehdr, e_shstrndx)), 2, spec.sections ? 2 : 0);

  if (spec.interpreter) {
    const size_t i = img.interp_index;
    img.put(img.ph_type(i), 4, PT_INTERP);
    img.put(img.ph_flags(i), 4, PF_R);
    img.put(img.ph_offset(i), w, img.interp_offset);
    img.put(img.ph_vaddr(i), w, img.load_vaddr + img.interp_offset);
    img.put(img.ph_filesz(i), w, img.interp_bytes);
    img.put(img.ph_memsz(i), w, img.interp_bytes);
    img.put(img.ph_align(i), w, 1);
    std::memcpy(b + img.interp_offset, kInterp, sizeof kInterp);
  }
  const size_t l = img.load_index;
  img.put(img.ph_type(l), 4, PT_LOAD);
  img.put(img.ph_flags(l), 4, PF_R | PF_X);
  img.put(img.ph_offset(l), w, 0);
  img.put(img.ph_vaddr(l), w, img.load_vaddr);
  img.put(img.ph_filesz(l), w, load_end);
  img.put(img.ph_memsz(l), w, load_end + 0x1000);  // .bss
  img.put(img.ph_align(l), w, 0x1000);
  std::memset(b + img.code_offset, 0x90, code_bytes);  // nop sled; never run

  if (spec.sections) {
    std::memcpy(b + names_offset, kNames, sizeof kNames);
    auto sh = [&](size_t k, size_t off32, size_t off64) { return img.shoff + k * img.shentsize + (spec.is64 ? off64 : off32); };
    // [1] .text: the code; [2] .shstrtab: the names.
    img.put(sh(1, offsetof(Elf32_Shdr, sh_name), offsetof(Elf64_Shdr, sh_name)), 4, 1);
    img.put(sh(1, offsetof(Elf32_Shdr, sh_type), offsetof(Elf64_Shdr, sh_type)), 4, SHT_PROGBITS);
    img.put(sh(1, offsetof(Elf32_Shdr, sh_offset), offsetof(Elf64_Shdr, sh_offset)), w, img.code_offset);
    img.put(sh(1, offsetof(Elf32_Shdr, sh_size), offsetof(Elf64_Shdr, sh_size)), w, code_bytes);
    img.put(sh(2, offsetof(Elf32_Shdr, sh_name), offsetof(Elf64_Shdr, sh_name)), 4, 7);
    img.put(sh(2, offsetof(Elf32_Shdr, sh_type), offsetof(Elf64_Shdr, sh_type)), 4, SHT_STRTAB);
    img.put(sh(2, offsetof(Elf32_Shdr, sh_offset), offsetof(Elf64_Shdr, sh_offset)), w, names_offset);
    img.put(sh(2, offsetof(Elf32_Shdr, sh_size), offsetof(Elf64_Shdr, sh_size)), w, sizeof kNames);
  }
  return img;
}

}  // namespace spore::posix::testing
