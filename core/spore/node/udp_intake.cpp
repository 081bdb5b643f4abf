#include "spore/node/udp_intake.h"

namespace spore {

size_t UdpIntake::poll(UdpPort& port, DatagramHandler deliver) {
  size_t delivered = 0;
  last_taken_ = 0;
  while (last_taken_ < datagrams_per_pass_) {
    const size_t size = port.next_datagram();
    if (size == 0) break;
    ++last_taken_;
    if (size > sizeof buffer_) {
      ++stats_.dropped_oversize;
      continue;  // left unread: the next next_datagram() frees it
    }
    if (port.largest_free_block_bytes() < min_free_block_bytes_) {
      ++stats_.dropped_low_heap;
      continue;
    }
    if (port.read(buffer_, size) != size) {
      ++stats_.dropped_short_read;
      continue;
    }
    ++stats_.received;
    ++delivered;
    if (deliver) deliver(port.remote_ip(), port.remote_port(), buffer_, size);
  }
  return delivered;
}

}  // namespace spore
