#!/usr/bin/env python3
"""Checks Home Assistant MQTT discovery documents against HA's documented rules.

Input: a dump of retained messages, one "topic payload" per line (mosquitto_sub -v --retained-only
-t 'homeassistant/#' -t 'spore/#'). Each document under <prefix>/<component>/<node_id>/<object_id>/
config must follow https://www.home-assistant.io/integrations/mqtt/ ("MQTT Discovery"):
  - the topic's levels: a supported component, node_id and object_id of [a-zA-Z0-9_-];
  - a JSON object whose keys are full option names or their documented abbreviations (the ones
    this checker knows; any other key fails), "~" replaced at the start or end of *_topic values;
  - no deprecated key: object_id / obj_id (deprecated in HA 2025.10, removed in 2026.4);
  - default_entity_id "<component>.<object>", a valid entity id (HA's valid_entity_id);
  - unique_id present and unique across all documents; a device with identifiers and name;
    configuration_url and origin.support_url http(s) URLs, origin.name present;
  - state_topic (and availability_topic) hold a retained message; the value_template (the forms
    SPORE uses: "{{ value_json.a.b }}" and "{{ value_json.a // N }}") reads a number or a string
    from it; a binary_sensor without template gets payload_on or payload_off;
  - configuration_url answers 200 with an HTML page (the node's dashboard).
Prints one line per document; exits 1 with the reasons when a rule is broken.
Usage: ha_discovery_check.py DUMP EXPECTED_DOCUMENTS
"""

import json
import re
import sys
import urllib.request

# Abbreviations from HA's discovery documentation ("Supported abbreviations in MQTT discovery
# messages"), the subset a checker needs for SPORE's documents; full names are accepted too.
ABBREVIATIONS = {
    "avty_t": "availability_topic", "dev": "device", "dev_cla": "device_class", "def_ent_id": "default_entity_id",
    "ent_cat": "entity_category", "name": "name", "o": "origin", "pl_off": "payload_off", "pl_on": "payload_on",
    "stat_cla": "state_class", "stat_t": "state_topic", "uniq_id": "unique_id", "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template", "obj_id": "object_id",
}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "name": "name", "mf": "manufacturer", "mdl": "model",
                        "sw": "sw_version", "cu": "configuration_url"}
ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version", "url": "support_url"}
DEPRECATED = {"object_id"}
COMPONENTS = {"binary_sensor", "sensor"}
LEVEL = re.compile(r"^[a-zA-Z0-9_-]+$")
ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
TEMPLATE = re.compile(r"^\{\{ value_json\.([A-Za-z_][A-Za-z0-9_.]*)(?: // (\d+))? \}\}$")
URL = re.compile(r"^https?://[^\s/]+/\S*$")


def expand(doc, table, where, errors):
    out = {}
    for key, value in doc.items():
        full = table.get(key, key)
        if full not in table.values():
            errors.append(f"{where}: unknown key '{key}'")
        out[full] = value
    return out


def read_template(template, payload):
    m = TEMPLATE.match(template)
    if not m:
        return None, f"template '{template}' is not a form this checker reads"
    try:
        value = json.loads(payload)
    except ValueError:
        return None, f"state '{payload}' is not JSON"
    for part in m.group(1).split("."):
        if not isinstance(value, dict) or part not in value:
            return None, f"state has no '{m.group(1)}'"
        value = value[part]
    if m.group(2):
        if not isinstance(value, int):
            return None, f"'{m.group(1)}' is not an integer"
        value //= int(m.group(2))
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        return None, f"'{m.group(1)}' is not a number or string"
    return value, None


def check(doc_topic, payload, retained, unique_ids, errors):
    levels = doc_topic.split("/")
    if len(levels) != 5 or levels[4] != "config" or levels[1] not in COMPONENTS or not all(
            LEVEL.match(x) for x in levels[2:4]):
        errors.append(f"{doc_topic}: not <prefix>/<component>/<node_id>/<object_id>/config")
        return
    component = levels[1]
    raw = json.loads(payload)
    if not isinstance(raw, dict):
        errors.append(f"{doc_topic}: not a JSON object")
        return
    base = raw.pop("~", "")
    doc = expand(raw, ABBREVIATIONS, doc_topic, errors)
    for key in DEPRECATED & doc.keys():
        errors.append(f"{doc_topic}: deprecated '{key}'")
    for key, value in list(doc.items()):
        if key.endswith("_topic") and isinstance(value, str):
            if value.startswith("~"):
                value = base + value[1:]
            elif value.endswith("~"):
                value = value[:-1] + base
            doc[key] = value
    dev = expand(doc.get("device", {}), DEVICE_ABBREVIATIONS, doc_topic + " device", errors)
    origin = expand(doc.get("origin", {}), ORIGIN_ABBREVIATIONS, doc_topic + " origin", errors)
    uid = doc.get("unique_id")
    if not uid:
        errors.append(f"{doc_topic}: no unique_id")
    elif uid in unique_ids:
        errors.append(f"{doc_topic}: unique_id {uid} also in {unique_ids[uid]}")
    else:
        unique_ids[uid] = doc_topic
    entity = doc.get("default_entity_id", "")
    if not ENTITY_ID.match(entity) or not entity.startswith(component + "."):
        errors.append(f"{doc_topic}: default_entity_id '{entity}' is not a valid {component} entity id")
    if not dev.get("identifiers") or not dev.get("name"):
        errors.append(f"{doc_topic}: device without identifiers or name")
    if not URL.match(str(dev.get("configuration_url", ""))):
        errors.append(f"{doc_topic}: configuration_url '{dev.get('configuration_url')}' is not an http(s) URL")
    if not origin.get("name") or not URL.match(str(origin.get("support_url", ""))):
        errors.append(f"{doc_topic}: origin without name or support_url")
    state_topic = doc.get("state_topic", "")
    if state_topic not in retained:
        errors.append(f"{doc_topic}: state_topic '{state_topic}' holds no retained message")
        return
    state = retained[state_topic]
    if "value_template" in doc:
        value, why = read_template(doc["value_template"], state)
        if why:
            errors.append(f"{doc_topic}: {why}")
    elif component == "binary_sensor":
        value = state
        if state not in (doc.get("payload_on", "ON"), doc.get("payload_off", "OFF")):
            errors.append(f"{doc_topic}: state '{state}' is neither payload_on nor payload_off")
    else:
        value = state
    avty = doc.get("availability_topic")
    if avty is not None and retained.get(avty) != "online":
        errors.append(f"{doc_topic}: availability_topic '{avty}' is not 'online'")
    print(f"{doc_topic}: {entity} = {value!r}")
    return dev.get("configuration_url")


def main():
    dump, expected = sys.argv[1], int(sys.argv[2])
    retained = {}
    with open(dump, encoding="utf-8") as f:
        for line in f:
            topic, _, payload = line.rstrip("\n").partition(" ")
            retained[topic] = payload
    errors, unique_ids, urls = [], {}, set()
    docs = {t: p for t, p in retained.items() if t.endswith("/config")}
    for doc_topic, payload in sorted(docs.items()):
        try:
            url = check(doc_topic, payload, retained, unique_ids, errors)
        except ValueError as e:
            errors.append(f"{doc_topic}: {e}")
            continue
        if url:
            urls.add(url)
    if len(docs) != expected:
        errors.append(f"{len(docs)} discovery documents, expected {expected}")
    for url in sorted(urls):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status != 200 or not r.headers.get("Content-Type", "").startswith("text/html"):
                    errors.append(f"configuration_url {url}: {r.status} {r.headers.get('Content-Type')}")
        except OSError as e:
            errors.append(f"configuration_url {url}: {e}")
    for e in errors:
        print("FAIL " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
