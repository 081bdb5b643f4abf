// Home Assistant MQTT discovery (docs/mqtt.md, "Home Assistant"): one retained config document per
// entity under <prefix>/<component>/spore_<node id>/<object>/config. Part of MqttBridge, as
// mqtt_commands.cpp is; publishing, the outbox and the state document are in mqtt_bridge.cpp.
#include <cstring>

#include "spore/base/flash_string.h"
#include "spore/base/json_writer.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/mqtt/mqtt_text.h"
#include "spore/node/node_context.h"

namespace spore {

namespace {

using mqtt_text::append;
using mqtt_text::copy_display;
using mqtt_text::dec;

/// A Home Assistant entity id's object part made of `s`: lower-case [a-z0-9], runs of anything
/// else as one '_', none at either end (HA's valid_entity_id). Returns its length (0: nothing left).
size_t slug(std::string_view s, char* out, size_t out_size) {
  size_t n = 0;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (n + 2 >= out_size) break;
    if (keep) {
      out[n++] = c;
    } else if (n > 0 && out[n - 1] != '_') {
      out[n++] = '_';
    }
  }
  if (n > 0 && out[n - 1] == '_') --n;
  out[n] = '\0';
  return n;
}

// Home Assistant entities, one row of 8 strings each (flash list, indexed by Entity * 8 + field):
// component, object, name, value_template, unit, device_class, state_class, entity_category.
// The templates read <base>/state (publish_state()); uptime is shown in seconds.
constexpr char kEntities[] SPORE_FLASH =
    "binary_sensor\0status\0Status\0\0\0connectivity\0\0diagnostic\0"
    "sensor\0free_heap\0Free heap\0{{ value_json.freeHeap }}\0B\0data_size\0measurement\0diagnostic\0"
    "sensor\0uptime\0Uptime\0{{ value_json.uptimeMs // 1000 }}\0s\0duration\0total_increasing\0diagnostic\0"
    "sensor\0firmware\0Firmware\0{{ value_json.firmwareVersion }}\0\0\0\0diagnostic\0"
    "sensor\0members_active\0Members active\0{{ value_json.members.active }}\0\0\0measurement\0\0"
    "sensor\0members_inactive\0Members inactive\0{{ value_json.members.inactive }}\0\0\0measurement\0\0"
    "sensor\0members_dead\0Members dead\0{{ value_json.members.dead }}\0\0\0measurement\0\0";
constexpr size_t kEntityFields = 8;
constexpr size_t kEntityCount = 7;
static_assert(flash_list_count(kEntities, sizeof kEntities) == kEntityFields * kEntityCount, "8 strings per entity");
enum EntityField : uint8_t { kComponent, kObject, kName, kTemplate, kUnit, kDeviceClass, kStateClass, kCategory };

FlashStr entity_field(size_t entity, EntityField field) {
  return flash_nth(kEntities, kEntityFields * kEntityCount, entity * kEntityFields + field);
}

/// Copies a flash string to a small RAM buffer (topic pieces are built with memcpy).
struct FlashCopy {
  explicit FlashCopy(FlashStr s) { len = s.copy_to(text, sizeof text); }
  std::string_view view() const { return {text, len}; }
  char text[24];
  size_t len;
};

}  // namespace

size_t MqttBridge::dashboard_url(char* out, size_t out_size) const {
  // http://<ip>[:<port>]/ : the node's dashboard (GET /), the page Home Assistant links to.
  char ip[16];
  format_ipv4(ctx_.self().ip, ip, sizeof ip);
  size_t len = 0;
  out[0] = '\0';
  append(out, out_size, &len, "http://");
  append(out, out_size, &len, ip);
  const uint16_t port = ctx_.config().http_port;
  if (port != 80) {
    char digits[11];
    append(out, out_size, &len, ":");
    append(out, out_size, &len, {digits, dec(port, digits)});
  }
  append(out, out_size, &len, "/");
  return len;
}

void MqttBridge::publish_discovery_documents() {
  for (size_t e = 0; e < kEntityCount; ++e) publish_discovery(e);
}

void MqttBridge::publish_discovery(size_t entity) {
  char id[11];
  dec(ctx_.self().node_id, id);
  const FlashCopy component(entity_field(entity, kComponent));
  const FlashCopy object(entity_field(entity, kObject));
  // <prefix>/<component>/spore_<id>/<object>/config
  size_t len = 0;
  topic_[0] = '\0';
  const bool topic_ok = append(topic_, sizeof topic_, &len, prefix_) && append(topic_, sizeof topic_, &len, "/") &&
                        append(topic_, sizeof topic_, &len, component.view()) &&
                        append(topic_, sizeof topic_, &len, "/spore_") && append(topic_, sizeof topic_, &len, id) &&
                        append(topic_, sizeof topic_, &len, "/") &&
                        append(topic_, sizeof topic_, &len, object.view()) &&
                        append(topic_, sizeof topic_, &len, "/config");
  if (!topic_ok) return;

  // unique_id spore_<id>_<object>; the device's identifier spore_<id>.
  char device_id[20];
  size_t dlen = 0;
  device_id[0] = '\0';
  append(device_id, sizeof device_id, &dlen, "spore_");
  append(device_id, sizeof device_id, &dlen, id);
  char unique_id[40];
  std::memcpy(unique_id, device_id, dlen + 1);
  size_t ulen = dlen;
  append(unique_id, sizeof unique_id, &ulen, "_");
  append(unique_id, sizeof unique_id, &ulen, object.view());
  // default_entity_id <component>.<slug of the hostname, else spore_<id>>_<object>
  char entity_id[14 + SPORE_MAX_HOSTNAME_LEN + 24];
  size_t elen = 0;
  entity_id[0] = '\0';
  append(entity_id, sizeof entity_id, &elen, component.view());
  append(entity_id, sizeof entity_id, &elen, ".");
  const size_t slugged = slug(ctx_.hostname(), entity_id + elen, sizeof entity_id - elen);
  elen += slugged;
  if (slugged == 0) append(entity_id, sizeof entity_id, &elen, device_id);
  append(entity_id, sizeof entity_id, &elen, "_");
  append(entity_id, sizeof entity_id, &elen, object.view());

  // Abbreviated keys (HA's discovery abbreviations: uniq_id, def_ent_id, stat_t, ...) and "~",
  // the base topic the *_t keys start with, keep the largest document within the ESP8266's
  // payload buffer.
  BufferJsonOutput out(payload_, sizeof payload_);
  JsonWriter w(out);
  const bool is_status = entity == static_cast<size_t>(Entity::kStatus);
  w.begin_object()
      .field(SPORE_FSTR("~"), std::string_view(base_, base_len_))
      .field(SPORE_FSTR("uniq_id"), static_cast<const char*>(unique_id))
      .field(SPORE_FSTR("def_ent_id"), static_cast<const char*>(entity_id))
      .field(SPORE_FSTR("name"), entity_field(entity, kName))
      .field(SPORE_FSTR("stat_t"), is_status ? SPORE_FSTR("~/status") : SPORE_FSTR("~/state"));
  write_entity_options(w, entity);
  if (is_status) {
    w.field(SPORE_FSTR("pl_on"), kOnlinePayload).field(SPORE_FSTR("pl_off"), kWillPayload);
  } else {
    w.field(SPORE_FSTR("avty_t"), SPORE_FSTR("~/status"));
  }
  write_device(w, device_id);
  w.end_object();
  send(out.size(), true, out.overflowed() || !w.complete());
}

void MqttBridge::write_entity_options(JsonWriter& w, size_t entity) {
  // Optional fields are empty strings in the table.
  const EntityField optional[] = {kTemplate, kUnit, kDeviceClass, kStateClass, kCategory};
  for (EntityField f : optional) {
    const FlashStr value = entity_field(entity, f);
    if (value.length() == 0) continue;
    switch (f) {
      case kTemplate: w.key(SPORE_FSTR("val_tpl")); break;
      case kUnit: w.key(SPORE_FSTR("unit_of_meas")); break;
      case kDeviceClass: w.key(SPORE_FSTR("dev_cla")); break;
      case kStateClass: w.key(SPORE_FSTR("stat_cla")); break;
      default: w.key(SPORE_FSTR("ent_cat")); break;
    }
    w.value(value);
  }
}

void MqttBridge::write_device(JsonWriter& w, const char* device_id) {
  char hostname[SPORE_MAX_HOSTNAME_LEN + 1];
  copy_display(ctx_.hostname(), hostname, sizeof hostname);
  char firmware[SPORE_MAX_VERSION_LEN + 1];
  copy_display(ctx_.firmware_version(), firmware, sizeof firmware);
  char url[32];  // "http://255.255.255.255:65535/"
  dashboard_url(url, sizeof url);
  w.key(SPORE_FSTR("dev")).begin_object();
  w.key(SPORE_FSTR("ids")).begin_array().value(device_id).end_array();
  w.field(SPORE_FSTR("name"), static_cast<const char*>(hostname))
      .field(SPORE_FSTR("mf"), SPORE_FSTR("SPORE"))
      .field(SPORE_FSTR("mdl"), static_cast<const char*>(model_))
      .field(SPORE_FSTR("sw"), static_cast<const char*>(firmware))
      .field(SPORE_FSTR("cu"), static_cast<const char*>(url))
      .end_object();
  // origin: what published the document (HA logs it). SPORE has no public site: its support
  // page is the node's own dashboard, which lists the node's API and links its docs.
  w.key(SPORE_FSTR("o"))
      .begin_object()
      .field(SPORE_FSTR("name"), SPORE_FSTR("SPORE"))
      .field(SPORE_FSTR("sw"), static_cast<const char*>(firmware))
      .field(SPORE_FSTR("url"), static_cast<const char*>(url))
      .end_object();
}

}  // namespace spore
