// libFuzzer target for the whole-image ELF check of a Linux node's update
// (platform/posix/elf_image.h, check_elf_image(): what ExecutableFlashTarget::commit() runs).
//
// Input: the image itself. The identity it must match is read from its own header when it has
// one (so every class, byte order and machine is explored), else the host's.
//
// Properties checked on every input, abort() on violation:
// - never crashes or reads outside the input (ASan/UBSan; libFuzzer hands over an exact-size
//   copy);
// - deterministic: a second check gives the same verdict, sentence and sizes;
// - a refusal has a sentence, an acceptance has none;
// - an accepted image: required_bytes <= size; the prefix of exactly required_bytes is accepted
//   with the same entry; the prefix one byte shorter, and a pseudo-random shorter prefix, are
//   refused; the image with 64 bytes appended is accepted; against another machine it is refused.
// And once, at start: this fuzzer's own executable (/proc/self/exe, a real linker output) is
// accepted, and cut at many points it is refused; the same for every small image the seeds are
// made of (tests/posix/elf_test_image.h: 32/64-bit, both byte orders, with and without
// PT_INTERP and sections).
//
// Seed corpus: tests/fuzz/corpus/elf_image/, written by running this target with
// SPORE_ELF_FUZZ_WRITE_SEEDS=<dir>.

#include "../../platform/posix/elf_image.cpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../posix/elf_test_image.h"

namespace {

using spore::posix::check_elf_image;
using spore::posix::ElfCheck;
using spore::posix::ElfIdentity;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "elf_image_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

bool same(const ElfCheck& a, const ElfCheck& b) {
  return a.ok == b.ok && a.error == b.error && a.required_bytes == b.required_bytes && a.entry == b.entry &&
         a.has_interpreter == b.has_interpreter;
}

/// Whole: accepted; cut anywhere in `cuts` (all below the size): refused.
void accepted_whole_refused_cut(const std::vector<uint8_t>& image, const ElfIdentity& id, const std::vector<size_t>& cuts) {
  require(check_elf_image(image.data(), image.size(), id).ok, "a valid image is refused");
  for (size_t cut : cuts) require(!check_elf_image(image.data(), cut, id).ok, "a truncated valid image is accepted");
}

std::vector<spore::posix::testing::ElfTestImage> seed_images() {
  std::vector<spore::posix::testing::ElfTestImage> images;
  for (int k = 0; k < 16; ++k) {
    spore::posix::testing::ElfSpec s;
    s.is64 = (k & 1) != 0;
    s.msb = (k & 2) != 0;
    s.interpreter = (k & 4) != 0;
    s.sections = (k & 8) != 0;
    s.machine = s.is64 ? (s.msb ? EM_PPC64 : EM_X86_64) : (s.msb ? EM_MIPS : EM_ARM);
    images.push_back(spore::posix::testing::make_elf_test_image(s));
  }
  return images;
}

ElfIdentity identity_of(const uint8_t* data, size_t size) {
  ElfIdentity id = spore::posix::host_elf_identity();
  spore::posix::read_elf_identity(data, size, &id);
  return id;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  const std::vector<uint8_t> self((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<size_t> cuts = {0, 16, 20, 63, 64, 1000, self.size() - 1};
  for (size_t k = 1; k < 32; ++k) cuts.push_back(self.size() * k / 32);
  accepted_whole_refused_cut(self, spore::posix::host_elf_identity(), cuts);
  const char* dir = std::getenv("SPORE_ELF_FUZZ_WRITE_SEEDS");
  int n = 0;
  for (const auto& img : seed_images()) {
    std::vector<size_t> every;
    for (size_t cut = 0; cut < img.bytes.size(); ++cut) every.push_back(cut);
    accepted_whole_refused_cut(img.bytes, identity_of(img.bytes.data(), img.bytes.size()), every);
    if (dir != nullptr) {
      const std::string path = std::string(dir) + "/seed-" + std::to_string(n);
      std::FILE* f = std::fopen(path.c_str(), "wb");
      require(f != nullptr, "cannot write a seed");
      std::fwrite(img.bytes.data(), 1, img.bytes.size(), f);
      std::fclose(f);
    }
    ++n;
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ElfIdentity id = identity_of(data, size);
  const ElfCheck first = check_elf_image(data, size, id);
  require(same(first, check_elf_image(data, size, id)), "the verdict is not deterministic");
  require(first.ok == first.error.empty(), "a verdict without a sentence, or an acceptance with one");
  if (!first.ok) return 0;
  require(first.required_bytes <= size, "required_bytes beyond the image");
  const ElfCheck exact = check_elf_image(data, static_cast<size_t>(first.required_bytes), id);
  require(exact.ok && exact.required_bytes == first.required_bytes && exact.entry == first.entry,
          "the prefix of required_bytes is not accepted alike");
  if (first.required_bytes > 0) {
    require(!check_elf_image(data, static_cast<size_t>(first.required_bytes) - 1, id).ok,
            "a prefix one byte short of required_bytes is accepted");
    const size_t cut = static_cast<size_t>((size * 2654435761u) % first.required_bytes);
    require(!check_elf_image(data, cut, id).ok, "a shorter prefix is accepted");
  }
  std::vector<uint8_t> padded(data, data + size);
  padded.resize(size + 64, 0xA5);
  require(check_elf_image(padded.data(), padded.size(), id).ok, "bytes after the image made it invalid");
  ElfIdentity other = id;
  other.machine = static_cast<uint16_t>(other.machine ^ 0x5A);
  require(!check_elf_image(data, size, other).ok, "accepted for another machine");
  return 0;
}
