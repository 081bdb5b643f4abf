#include "spore/device/udp_intake.h"

namespace spore {

size_t UdpIntake::poll(DatagramSource& source, DatagramHandler deliver) {
  size_t delivered = 0;
  for (uint8_t i = 0; i < kMaxDatagramsPerPoll; ++i) {
    const size_t size = source.next_datagram();
    if (size == 0) break;
    if (size > sizeof buffer_) {
      ++stats_.dropped_oversize;
      continue;  // left unread: the next next_datagram() frees it
    }
    if (source.largest_free_block_bytes() < min_free_block_bytes_) {
      ++stats_.dropped_low_heap;
      continue;
    }
    if (source.read(buffer_, size) != size) {
      ++stats_.dropped_short_read;
      continue;
    }
    ++stats_.received;
    ++delivered;
    if (deliver) deliver(source.remote_ip(), source.remote_port(), buffer_, size);
  }
  return delivered;
}

}  // namespace spore
