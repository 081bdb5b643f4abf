// check_elf_image(): real executables pass whole and fail cut anywhere; every structural field a
// loader relies on, corrupted one at a time in small images of both classes and byte orders, is
// refused with a sentence that names it.

#include "posix/elf_image.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "elf_test_image.h"

namespace spore::posix {
namespace {

using testing::ElfSpec;
using testing::ElfTestImage;
using testing::make_elf_test_image;

std::vector<uint8_t> self_image() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

ElfIdentity identity_of(const ElfSpec& s) {
  return ElfIdentity{static_cast<uint8_t>(s.is64 ? ELFCLASS64 : ELFCLASS32),
                     static_cast<uint8_t>(s.msb ? ELFDATA2MSB : ELFDATA2LSB), s.machine};
}

ElfCheck check(const ElfTestImage& img) { return check_elf_image(img.bytes.data(), img.bytes.size(), identity_of(img.spec)); }

std::vector<ElfSpec> every_kind() {
  std::vector<ElfSpec> specs;
  for (bool is64 : {false, true})
    for (bool msb : {false, true})
      for (bool interp : {false, true})
        for (bool sections : {false, true}) {
          ElfSpec s;
          s.is64 = is64;
          s.msb = msb;
          s.machine = is64 ? (msb ? EM_PPC64 : EM_X86_64) : (msb ? EM_MIPS : EM_ARM);
          s.type = interp ? ET_DYN : ET_EXEC;
          s.interpreter = interp;
          s.sections = sections;
          specs.push_back(s);
        }
  return specs;
}

std::string kind(const ElfSpec& s) {
  return std::string(s.is64 ? "64" : "32") + (s.msb ? "MSB" : "LSB") + (s.interpreter ? "+interp" : "") +
         (s.sections ? "+sections" : "");
}

TEST(ElfImage, TheRunningExecutableIsAccepted) {
  const std::vector<uint8_t> self = self_image();
  ASSERT_GT(self.size(), 4096u);
  const ElfCheck c = check_elf_image(self.data(), self.size(), host_elf_identity());
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_TRUE(c.error.empty());
  EXPECT_EQ(c.required_bytes, self.size()) << "a linked executable ends with its section header table";
  EXPECT_TRUE(c.has_interpreter);
  ElfIdentity read;
  ASSERT_TRUE(read_elf_identity(self.data(), self.size(), &read));
  EXPECT_EQ(read.elf_class, host_elf_identity().elf_class);
  EXPECT_EQ(read.data, host_elf_identity().data);
  EXPECT_EQ(read.machine, host_elf_identity().machine);
}

TEST(ElfImage, TheRunningExecutableCutAnywhereIsRefused) {
  std::vector<uint8_t> self = self_image();
  // The finding (the first 1,000 bytes), every header boundary, and points all along.
  std::vector<size_t> cuts = {0, 3, 4, 15, 16, 19, 20, 63, 64, 1000, 4096, self.size() / 3, self.size() / 2,
                              self.size() - 4096, self.size() - 1};
  for (size_t k = 1; k < 64; ++k) cuts.push_back(self.size() * k / 64);
  for (size_t cut : cuts) {
    const ElfCheck c = check_elf_image(self.data(), cut, host_elf_identity());
    EXPECT_FALSE(c.ok) << "accepted the first " << cut << " of " << self.size() << " bytes";
    EXPECT_FALSE(c.error.empty());
  }
  EXPECT_NE(check_elf_image(self.data(), 1000, host_elf_identity()).error.find("beyond the image's 1000 bytes"),
            std::string::npos)
      << check_elf_image(self.data(), 1000, host_elf_identity()).error;
  // Bytes after the end do not matter (a padded image, a signature trailer).
  self.resize(self.size() + 777, 0xA5);
  EXPECT_TRUE(check_elf_image(self.data(), self.size(), host_elf_identity()).ok);
}

TEST(ElfImage, SmallImagesOfEveryClassAndByteOrderAreAcceptedWholeAndRefusedCut) {
  for (const ElfSpec& spec : every_kind()) {
    SCOPED_TRACE(kind(spec));
    const ElfTestImage img = make_elf_test_image(spec);
    const ElfCheck c = check(img);
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.required_bytes, img.bytes.size());
    EXPECT_EQ(c.has_interpreter, spec.interpreter);
    for (size_t cut = 0; cut < img.bytes.size(); ++cut) {
      EXPECT_FALSE(check_elf_image(img.bytes.data(), cut, identity_of(spec)).ok) << "accepted a cut at " << cut;
    }
  }
  EXPECT_FALSE(check_elf_image(nullptr, 100, host_elf_identity()).ok);
}

struct Corruption {
  const char* what;
  std::function<void(ElfTestImage&)> apply;
  const char* says;  // a fragment of the refusal's sentence
};

std::vector<Corruption> corruptions() {
  auto eh = [](ElfTestImage& i, size_t o32, size_t o64, size_t width, uint64_t v) { i.put(i.eh(o32, o64), width, v); };
#define EH(field) offsetof(Elf32_Ehdr, field), offsetof(Elf64_Ehdr, field)
  return {
      {"magic", [](ElfTestImage& i) { i.bytes[1] = 'X'; }, "does not start with an ELF header"},
      {"class", [](ElfTestImage& i) { i.bytes[EI_CLASS] = i.spec.is64 ? ELFCLASS32 : ELFCLASS64; }, "this node runs"},
      {"class none", [](ElfTestImage& i) { i.bytes[EI_CLASS] = 7; }, "unknown-class"},
      {"byte order", [](ElfTestImage& i) { i.bytes[EI_DATA] = i.spec.msb ? ELFDATA2LSB : ELFDATA2MSB; }, "this node runs"},
      {"EI_VERSION", [](ElfTestImage& i) { i.bytes[EI_VERSION] = 2; }, "identification version"},
      {"machine", [](ElfTestImage& i) { i.put(18, 2, 94); }, "xtensa"},
      {"type REL", [](ElfTestImage& i) { i.put(16, 2, ET_REL); }, "not an executable"},
      {"type CORE", [](ElfTestImage& i) { i.put(16, 2, ET_CORE); }, "not an executable"},
      {"e_version", [](ElfTestImage& i) { i.put(20, 4, 0); }, "e_version"},
      {"e_ehsize", [eh](ElfTestImage& i) { eh(i, EH(e_ehsize), 2, 40); }, "ELF header says"},
      {"no program headers", [eh](ElfTestImage& i) { eh(i, EH(e_phnum), 2, 0); }, "no program headers"},
      {"e_phentsize", [eh](ElfTestImage& i) { eh(i, EH(e_phentsize), 2, i.phentsize + 8); }, "program headers are"},
      {"program header table past the end",
       [eh](ElfTestImage& i) { eh(i, EH(e_phoff), i.word(), i.bytes.size() - 8); }, "program header table"},
      {"program header table far past the end",
       [eh](ElfTestImage& i) { eh(i, EH(e_phoff), i.word(), i.spec.is64 ? ~uint64_t{0} - 10 : 0xFFFFFFF0u); },
       "program header table"},
      {"program header table above 64 KiB", [eh](ElfTestImage& i) { eh(i, EH(e_phnum), 2, 0xFFFF); }, "64 KiB"},
      {"segment past the end",
       [](ElfTestImage& i) { i.put(i.ph_offset(i.load_index), i.word(), i.bytes.size() + 0x1000); },
       "beyond the image's"},
      {"segment size past the end",
       [](ElfTestImage& i) { i.put(i.ph_filesz(i.load_index), i.word(), i.bytes.size() + 1); }, "beyond the image's"},
      {"segment offset overflow",
       [](ElfTestImage& i) {
         i.put(i.ph_offset(i.load_index), i.word(), i.spec.is64 ? ~uint64_t{0} : 0xFFFFFFFFu);
         i.put(i.ph_filesz(i.load_index), i.word(), 16);
       },
       "beyond the image's"},
      {"filesz above memsz", [](ElfTestImage& i) { i.put(i.ph_memsz(i.load_index), i.word(), 8); }, "more file bytes"},
      {"address overflow",
       [](ElfTestImage& i) { i.put(i.ph_memsz(i.load_index), i.word(), i.spec.is64 ? ~uint64_t{0} - 16 : 0xFFFFFFF0u); },
       "top of the address space"},
      {"alignment", [](ElfTestImage& i) { i.put(i.ph_align(i.load_index), i.word(), 0x1800); }, "power of two"},
      {"offset and address not congruent",
       [](ElfTestImage& i) { i.put(i.ph_vaddr(i.load_index), i.word(), i.load_vaddr + 8); }, "modulo the page size"},
      {"no PT_LOAD", [](ElfTestImage& i) { i.put(i.ph_type(i.load_index), 4, PT_NOTE); }, "no loadable segment"},
      {"entry outside", [eh](ElfTestImage& i) { eh(i, EH(e_entry), i.word(), 0x10); }, "entry point"},
      {"entry in data", [](ElfTestImage& i) { i.put(i.ph_flags(i.load_index), 4, PF_R | PF_W); }, "entry point"},
      {"section header table past the end",
       [eh](ElfTestImage& i) { eh(i, EH(e_shoff), i.word(), i.bytes.size() - 4); }, "section header table"},
      {"too many sections", [eh](ElfTestImage& i) { eh(i, EH(e_shnum), 2, 0xFEFF); }, "section header table"},
      {"e_shentsize", [eh](ElfTestImage& i) { eh(i, EH(e_shentsize), 2, 12); }, "section headers are"},
      {"e_shstrndx", [eh](ElfTestImage& i) { eh(i, EH(e_shstrndx), 2, 3); }, "section name table index"},
      {"section past the end",
       [](ElfTestImage& i) {
         i.put(i.shoff + i.shentsize + (i.spec.is64 ? offsetof(Elf64_Shdr, sh_offset) : offsetof(Elf32_Shdr, sh_offset)),
               i.word(), i.bytes.size());
       },
       "section 1"},
      {"extended numbering without a count", [eh](ElfTestImage& i) { eh(i, EH(e_shnum), 2, 0); }, "no entries"},
  };
#undef EH
}

TEST(ElfImage, EachCorruptedFieldIsRefusedAndNamed) {
  for (const ElfSpec& spec : every_kind()) {
    if (!spec.sections || !spec.interpreter) continue;  // the full layout: every field exists
    for (const Corruption& c : corruptions()) {
      SCOPED_TRACE(kind(spec) + ": " + c.what);
      ElfTestImage img = make_elf_test_image(spec);
      c.apply(img);
      const ElfCheck r = check(img);
      EXPECT_FALSE(r.ok);
      EXPECT_NE(r.error.find(c.says), std::string::npos) << r.error;
    }
  }
}

TEST(ElfImage, InterpreterMustBeOneNulTerminatedPathInsideTheFile) {
  for (const ElfSpec& spec : every_kind()) {
    if (!spec.interpreter) continue;
    SCOPED_TRACE(kind(spec));
    ElfTestImage img = make_elf_test_image(spec);
    img.bytes[img.interp_offset + img.interp_bytes - 1] = 'x';
    EXPECT_NE(check(img).error.find("not NUL-terminated"), std::string::npos) << check(img).error;
    img = make_elf_test_image(spec);
    img.put(img.ph_filesz(img.interp_index), img.word(), 1);
    img.put(img.ph_memsz(img.interp_index), img.word(), 1);
    EXPECT_NE(check(img).error.find("interpreter path is 1 bytes"), std::string::npos) << check(img).error;
    img = make_elf_test_image(spec);
    img.put(img.ph_type(img.load_index), 4, PT_INTERP);  // a second PT_INTERP (and no PT_LOAD)
    EXPECT_NE(check(img).error.find("more than one program interpreter"), std::string::npos) << check(img).error;
  }
}

TEST(ElfImage, ExtendedSectionNumberingIsUnderstood) {
  for (const ElfSpec& spec : every_kind()) {
    if (!spec.sections) continue;
    SCOPED_TRACE(kind(spec));
    ElfTestImage img = make_elf_test_image(spec);
    // e_shnum 0 and e_shstrndx SHN_XINDEX: section 0's sh_size and sh_link hold the real values.
    img.put(img.eh(offsetof(Elf32_Ehdr, e_shnum), offsetof(Elf64_Ehdr, e_shnum)), 2, 0);
    img.put(img.eh(offsetof(Elf32_Ehdr, e_shstrndx), offsetof(Elf64_Ehdr, e_shstrndx)), 2, SHN_XINDEX);
    img.put(img.shoff + (spec.is64 ? offsetof(Elf64_Shdr, sh_size) : offsetof(Elf32_Shdr, sh_size)), img.word(), 3);
    img.put(img.shoff + (spec.is64 ? offsetof(Elf64_Shdr, sh_link) : offsetof(Elf32_Shdr, sh_link)), 4, 2);
    const ElfCheck c = check(img);
    EXPECT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.required_bytes, img.bytes.size());
    img.put(img.shoff + (spec.is64 ? offsetof(Elf64_Shdr, sh_link) : offsetof(Elf32_Shdr, sh_link)), 4, 9);
    EXPECT_NE(check(img).error.find("section name table index 9"), std::string::npos) << check(img).error;
  }
}

TEST(ElfImage, IdentityAndMachineNames) {
  ElfIdentity id;
  const uint8_t text[20] = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_FALSE(read_elf_identity(text, sizeof text, &id));
  EXPECT_FALSE(read_elf_identity(nullptr, 0, &id));
  EXPECT_STREQ(elf_machine_name(EM_AARCH64), "aarch64");
  EXPECT_STREQ(elf_machine_name(94), "xtensa");
  EXPECT_STREQ(elf_machine_name(0x7777), "other");
  ElfSpec spec;
  spec.is64 = false;
  spec.msb = true;
  spec.machine = EM_MIPS;
  const ElfTestImage img = make_elf_test_image(spec);
  ASSERT_TRUE(read_elf_identity(img.bytes.data(), img.bytes.size(), &id));
  EXPECT_EQ(id.elf_class, ELFCLASS32);
  EXPECT_EQ(id.data, ELFDATA2MSB);
  EXPECT_EQ(id.machine, EM_MIPS);
}

}  // namespace
}  // namespace spore::posix
