// INFO sync (docs/protocol.md §11.7): a member's resources and API list travel only when the
// digests its ANNOUNCE carries differ from what this node holds; one fetch at a time, page by
// page (INFO_REQ / INFO), and the answering side. Part of Membership, like prober.cpp.
#include "spore/cluster/membership.h"

#include <cstring>

#include "spore/base/heap_size.h"

namespace spore {

void Membership::handle_info_req(const wire::Message& msg) {
  const Member* asker = ctx_.members().find(msg.header.sender_id);
  if (asker == nullptr) return;
  const ApiRegistry& api = ctx_.api();
  wire::ApiEntry entries[SPORE_MAX_APIS];
  const size_t n = api.size();
  for (size_t i = 0; i < n; ++i) entries[i] = {api.at(i).method, api.at(i).uri_view()};
  const size_t sdk_len = std::strlen(sdk_version_);
  const bool auth = channel_.authenticated();
  uint8_t page = msg.info_req.api_page;
  size_t first = 0, count = 0;
  size_t pages = wire::api_pages(entries, n, sdk_len, auth, page, &first, &count);
  if (pages == 0) {
    ++stats_.send_failures;
    return;
  }
  if (page >= pages) {
    page = 0;  // the requester will see page 0 of a list it did not expect and start over
    wire::api_pages(entries, n, sdk_len, auth, 0, &first, &count);
  }
  const SystemInfo& sys = ctx_.system();
  wire::Message out;
  out.header.type = wire::MessageType::kInfo;
  wire::Info& info = out.info;
  info.resources_digest = resources_digest_;
  info.api_digest = api.digest();
  info.free_heap_code = heap_code_from_bytes(sys.free_heap_bytes());
  info.chip_id = sys.chip_id();
  info.flash_chip_size_bytes = sys.flash_chip_size_bytes();
  info.cpu_freq_mhz = sys.cpu_freq_mhz();
  info.sdk_version = std::string_view(sdk_version_, sdk_len);
  info.api_page = page;
  info.api_page_count = static_cast<uint8_t>(pages);
  info.api = wire::ApiList::from_array(entries + first, count);
  send_to(*asker, out);
}

void Membership::handle_info(const wire::Message& msg, uint32_t now_ms) {
  const uint32_t id = msg.header.sender_id;
  const wire::Info& in = msg.info;
  MemberTable& table = ctx_.members();
  Member* m = table.find(id);
  if (m == nullptr) return;
  Peer& peer = peer_of(*m);
  if (in.resources_digest != peer.held_res_digest || !peer.announced) {
    MemberResources r;
    r.free_heap_code = in.free_heap_code;
    r.chip_id = in.chip_id;
    r.flash_chip_size_bytes = in.flash_chip_size_bytes;
    r.cpu_freq_mhz = in.cpu_freq_mhz;
    table.set_resources(id, r, in.sdk_version);
    peer.held_res_digest = in.resources_digest;
  }
  m->resources.free_heap_code = in.free_heap_code;
  // INFO is fresher than the ANNOUNCE that made us ask.
  peer.announced_res_digest = in.resources_digest;
  peer.announced_api_digest = in.api_digest;
  peer.announced = true;
  if (fetch_.node_id != id) {
    ++stats_.ignored;  // unsolicited or late: resources taken, the list only through a fetch
    return;
  }
  if (m->api_digest == in.api_digest && fetch_.page == 0) {
    fetch_ = InfoFetch{};  // only the resources had changed
    ++stats_.info_syncs;
    run_info_sync(now_ms);
    return;
  }
  if (in.api_digest != fetch_.api_digest) {
    // The list changed between pages: start over rather than mix two versions.
    fetch_.api_digest = in.api_digest;
    if (in.api_page != 0) {
      fetch_.page = 0;
      fetch_.tries = 0;
      send_info_req(now_ms);
      return;
    }
    fetch_.page = 0;
  }
  if (in.api_page != fetch_.page) return;  // duplicate or late page
  if (in.api_page == 0) table.set_api(id, 0, nullptr, 0);  // digest 0 = incomplete until the last page
  for (const wire::ApiEntry e : in.api) table.append_api(id, e.method, e.uri);
  if (in.api_page + 1 < in.api_page_count) {
    ++fetch_.page;
    fetch_.tries = 0;
    send_info_req(now_ms);
    return;
  }
  table.complete_api(id, in.api_digest);  // shares the bytes with members on the same build
  fetch_ = InfoFetch{};
  ++stats_.info_syncs;
  run_info_sync(now_ms);  // next member whose details are out of date, without waiting a tick
}

void Membership::run_info_sync(uint32_t now_ms) {
  if (fetch_.node_id != 0) {
    const Member* m = ctx_.members().find(fetch_.node_id);
    if (m == nullptr || m->status != MemberStatus::kActive) {
      fetch_ = InfoFetch{};
    } else if (elapsed_ms(now_ms, fetch_.sent_ms) >= 2 * ctx_.config().probe_timeout_ms) {
      if (++fetch_.tries >= kInfoTries) {
        fetch_ = InfoFetch{};  // give the others a turn; it is picked again later
      } else {
        send_info_req(now_ms);
      }
    }
    return;
  }
  for (size_t i = 0; i < peers_.size(); ++i) {
    const size_t idx = (fetch_cursor_ + i) % peers_.size();
    const Peer& peer = peers_[idx];
    if (!peer.announced) continue;
    const Member* m = ctx_.members().at_slot(idx);
    if (m == nullptr || m->status != MemberStatus::kActive || m->left) continue;
    if (m->api_digest == peer.announced_api_digest && peer.held_res_digest == peer.announced_res_digest) continue;
    fetch_cursor_ = static_cast<uint8_t>((idx + 1) % peers_.size());
    fetch_ = InfoFetch{};
    fetch_.node_id = m->node_id;
    fetch_.api_digest = peer.announced_api_digest;
    send_info_req(now_ms);
    return;
  }
}

void Membership::send_info_req(uint32_t now_ms) {
  const Member* m = ctx_.members().find(fetch_.node_id);
  if (m == nullptr) {
    fetch_ = InfoFetch{};
    return;
  }
  fetch_.sent_ms = now_ms;
  wire::Message req;
  req.header.type = wire::MessageType::kInfoReq;
  req.info_req.api_page = fetch_.page;
  send_to(*m, req);
}

}  // namespace spore
