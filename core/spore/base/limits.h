#pragma once
/// @file limits.h
/// Compile-time capacities of the SPORE core, in one place (cf. Mongoose's mongoose_config.h).
///
/// Every table in core is a fixed array sized here, so the RAM a node needs is known at link time
/// and nothing is allocated after begin(). Override any of these with -D on the compiler command
/// line (PlatformIO: build_flags) before including SPORE headers. The defaults fit an ESP-01 with
/// ~40 KB free heap; a Linux node may raise them.

/// The ESP8266's capacities apply on the chip (__XTENSA__) and wherever the firmware is emulated on a
/// PC: the ESP-01 bed (tools/esp8266-host) compiles it for x86 with SPORE_ESP8266_HOST, and its
/// figures must be the board's (before this, the bed ran the host's 64 members and rate limits).
#if defined(__XTENSA__) || defined(SPORE_ESP8266_HOST)
#define SPORE_LIMITS_ESP8266 1
#endif

/// Members a node tracks, itself excluded. When full, see MemberTable for the eviction policy.
/// 32 on the ESP8266 (RAM); 64 on hosts (Linux nodes, the simulator), whose clusters of 50 must
/// fit one table.
#ifndef SPORE_MAX_MEMBERS
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_MEMBERS 32
#else
#define SPORE_MAX_MEMBERS 64
#endif
#endif

/// Longest hostname kept, in bytes, without the terminating NUL ("esp_" + 8 hex digits fits).
#ifndef SPORE_MAX_HOSTNAME_LEN
#define SPORE_MAX_HOSTNAME_LEN 31
#endif

/// Longest endpoint URI, in bytes, without the terminating NUL.
#ifndef SPORE_MAX_URI_LEN
#define SPORE_MAX_URI_LEN 47
#endif

/// Endpoints one node registers for itself in its ApiRegistry.
#ifndef SPORE_MAX_APIS
#define SPORE_MAX_APIS 16
#endif

/// Bytes shared by all members for their variable-length details (sdkVersion and API list).
/// Members on the same firmware build share one copy of each (MemberTable), so the arena is sized
/// for the distinct builds in a fleet, not for its members: 1 KB on the ESP8266 holds about five
/// distinct ~10-endpoint lists with their SDK strings (a member whose details do not fit is still
/// tracked, with details_truncated set). Hosts keep 128 B per member, enough with no sharing.
#ifndef SPORE_MEMBER_ARENA_BYTES
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MEMBER_ARENA_BYTES (SPORE_MAX_MEMBERS * 32)
#else
#define SPORE_MEMBER_ARENA_BYTES (SPORE_MAX_MEMBERS * 128)
#endif
#endif

/// 1: the DIGEST chain (Config::liveness kDigest, docs/protocol.md §11.12) is built in. 0: a node
/// still takes the evidence of every DIGEST it hears but runs no chain (its heartbeats are
/// broadcasts whatever Config::liveness says). 1 everywhere since the ESP-01 bed ran the chain
/// (docs/esp8266-runtime.md, 2026-12-08; +2.5 KB of engine flash on the ESP8266); which mode a
/// board runs is its `liveness=` setting (DeviceConfig), broadcast unless set.
#ifndef SPORE_DIGEST_LIVENESS
#define SPORE_DIGEST_LIVENESS 1
#endif

/// 1: a chain sender broadcasts a ROSTER_DIGEST once it vouches for more members than one DIGEST
/// holds (or Config::roster_digest_min_members), and a node takes the ages of one whose roster is
/// its own. 0 on the ESP8266: its table (SPORE_MAX_MEMBERS) never reaches the default threshold
/// (wire::kMaxDigestEntries + 2), and a host sends one only for a roster larger than such a table
/// holds, so the code (~0.7 KB) would only serve a lowered Config::roster_digest_min_members; such
/// a board sends DIGESTs with ids, and on a ROSTER_DIGEST asks its sender for one (docs/protocol.md
/// §4.16). 1 on hosts.
#ifndef SPORE_ROSTER_DIGEST
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_ROSTER_DIGEST 0
#else
#define SPORE_ROSTER_DIGEST 1
#endif
#endif

/// Longest SDK / firmware version string kept for a member, without the terminating NUL.
#ifndef SPORE_MAX_VERSION_LEN
#define SPORE_MAX_VERSION_LEN 31
#endif

/// Local event subscriptions (ctx.on) a node can hold at once, 24 B each. Core itself takes at most
/// four (ClusterEvents, Metrics, EventApi, the MQTT bridge; Membership's forget path is a direct
/// hook since issue 19); the rest is the sketch's. 16 on the ESP8266 (12 left for a sketch, 192 B
/// less than 24), 24 on hosts.
#ifndef SPORE_MAX_SUBSCRIBERS
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_SUBSCRIBERS 16
#else
#define SPORE_MAX_SUBSCRIBERS 24
#endif
#endif

/// Longest event topic, in bytes, without the terminating NUL.
#ifndef SPORE_MAX_TOPIC_LEN
#define SPORE_MAX_TOPIC_LEN 31
#endif

/// Largest UDP payload SPORE ever sends or accepts: the minimum reassembly buffer every IPv4
/// host must accept (576) less IP and UDP headers, so no datagram is ever fragmented.
#ifndef SPORE_MAX_DATAGRAM_BYTES
#define SPORE_MAX_DATAGRAM_BYTES 508
#endif

/// Datagrams one loop pass takes from the socket at most (UdpIntake), so a burst cannot starve the
/// rest of the loop; the others wait in the socket for the next pass. 8 suits the ESP8266, whose
/// core queues at most 5 (platform/esp8266/udp.h), so one pass always empties it; spored, whose
/// kernel queue is deep and whose loop wakes on the socket, takes 64 (NodePorts::datagrams_per_pass).
#ifndef SPORE_UDP_DATAGRAMS_PER_PASS
#define SPORE_UDP_DATAGRAMS_PER_PASS 8
#endif

/// Longest cluster key, in bytes.
#ifndef SPORE_MAX_KEY_BYTES
#define SPORE_MAX_KEY_BYTES 32
#endif

/// Deepest nesting of objects/arrays a JsonWriter accepts; one bit of state per level, so at most 32.
#ifndef SPORE_JSON_MAX_DEPTH
#define SPORE_JSON_MAX_DEPTH 16
#endif

/// Longest REST API token (Authorization: Bearer <token>), in bytes. The token is kept in a fixed
/// buffer of this size and compared in constant time over the whole buffer.
#ifndef SPORE_MAX_TOKEN_LEN
#define SPORE_MAX_TOKEN_LEN 64
#endif

/// Request-proof nonces (docs/security.md, "Request proofs") a node remembers as used, so each is
/// accepted once. When the table is full the oldest entry is dropped and every nonce issued at or
/// before it is refused from then on (a floor, like a replay window's left edge), so the table
/// never needs to hold a nonce's whole lifetime: a client whose nonce fell below the floor gets 401
/// `auth_stale` and fetches a new one. 12 B per entry; only token holders can fill it. 8 on the
/// ESP8266 (a handful of operators), 64 on hosts (scripts publishing events in a loop).
#ifndef SPORE_MAX_AUTH_NONCES
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_AUTH_NONCES 8
#else
#define SPORE_MAX_AUTH_NONCES 64
#endif
#endif

/// How long a request-proof nonce stays valid after GET /api/node/challenge issued it, ms. Long
/// enough for a client on a slow WiFi (the CLI fetches one right before each request), short
/// enough that a proof an attacker withheld from the node is useless soon after.
#ifndef SPORE_AUTH_NONCE_LIFETIME_MS
#define SPORE_AUTH_NONCE_LIFETIME_MS 30000
#endif

/// Routes a RestApi can serve (built-in ones included). Every route also takes an ApiRegistry
/// entry, so this should not exceed SPORE_MAX_APIS.
#ifndef SPORE_MAX_ROUTES
#define SPORE_MAX_ROUTES 12
#endif

/// Unicast join addresses (Membership::add_join_address) for networks that filter broadcast.
#ifndef SPORE_MAX_JOIN_ADDRESSES
#define SPORE_MAX_JOIN_ADDRESSES 4
#endif

/// Gossip entries (suspicions, refutations, leaves, joins) piggybacked on one datagram at most.
/// The news itself waits in its member's slot (GossipQueue: 5 B per SPORE_MAX_MEMBERS slot, plus
/// one for this node), so none is dropped: a burst of news only spreads over more datagrams.
#ifndef SPORE_GOSSIP_QUEUE_LEN
#define SPORE_GOSSIP_QUEUE_LEN 8
#endif

/// Indirect probes (PING_REQ) this node runs for others at once, 24 B each. Further requests are
/// ignored; the requester has indirect_probes other helpers.
#ifndef SPORE_MAX_RELAYED_PROBES
#define SPORE_MAX_RELAYED_PROBES 4
#endif

/// Jittered unicast ANNOUNCE replies to joining nodes waiting to be sent, 12 B each. When full,
/// further requests are dropped: the joiner still learns the member from its next heartbeat.
#ifndef SPORE_MAX_PENDING_REPLIES
#define SPORE_MAX_PENDING_REPLIES 8
#endif

/// Longest RSA signature (= modulus) an OTA public key may have, in bytes: 512 = RSA-4096. An
/// OtaSession holds back 4 + this many bytes (the end of the upload, where the signature trailer
/// is) and keeps a key of this size, for the node's whole life: twice this in RAM. 256 = RSA-2048
/// on the ESP8266: what `spore keygen` makes and the ESP8266 core's signing tool uses, the size
/// whose verification stack was measured for the chip (docs/ota.md §9), and 512 B of RAM less
/// than RSA-4096. A larger key there is refused like a malformed one (no update route); build
/// with -DSPORE_OTA_MAX_SIGNATURE_BYTES=512 for one. Hosts take up to RSA-4096.
#ifndef SPORE_OTA_MAX_SIGNATURE_BYTES
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_OTA_MAX_SIGNATURE_BYTES 256
#else
#define SPORE_OTA_MAX_SIGNATURE_BYTES 512
#endif
#endif

/// Whether OtaUploadHandler parses multipart/form-data bodies itself (1) or takes only raw image
/// bytes (0). cpp-httplib hands the Linux node the raw body, so hosts parse it in core; the
/// ESP8266's ESPAsyncWebServer parses multipart itself and passes the file part's bytes, so the
/// firmware never needs the parser and leaves it out (about 3.8 KB of flash, docs/footprint.md).
#ifndef SPORE_OTA_MULTIPART
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_OTA_MULTIPART 0
#else
#define SPORE_OTA_MULTIPART 1
#endif
#endif

/// Longest header section of one multipart/form-data part (all its header lines), in bytes. A
/// longer one is refused: no legitimate upload form sends more than a few hundred bytes.
#ifndef SPORE_MULTIPART_MAX_HEADER_BYTES
#define SPORE_MULTIPART_MAX_HEADER_BYTES 1024
#endif

/// Bytes of each multipart part header line kept for parsing (the rest of a longer line is
/// counted against SPORE_MULTIPART_MAX_HEADER_BYTES but not looked at). Content-Disposition's
/// name parameter comes first in every browser and in curl, far inside this.
#ifndef SPORE_MULTIPART_MAX_HEADER_LINE_BYTES
#define SPORE_MULTIPART_MAX_HEADER_LINE_BYTES 160
#endif

/// Longest WiFi SSID, in bytes (IEEE 802.11: 32).
#ifndef SPORE_MAX_SSID_LEN
#define SPORE_MAX_SSID_LEN 32
#endif

/// Longest WiFi password, in bytes: a WPA2 passphrase is 8..63 characters, a raw PSK 64 hex digits.
#ifndef SPORE_MAX_WIFI_PASSWORD_LEN
#define SPORE_MAX_WIFI_PASSWORD_LEN 64
#endif

/// Largest serialized DeviceConfig (the persisted settings file), in bytes. Every field at its
/// longest plus the key names fits in about 300 bytes; the rest is room for comments.
#ifndef SPORE_DEVICE_CONFIG_MAX_BYTES
#define SPORE_DEVICE_CONFIG_MAX_BYTES 512
#endif

/// Bytes of settings lines with keys this image does not know (written by a newer image) that a
/// DeviceConfig keeps verbatim and writes back when the settings are saved, so rolling back to an
/// older image loses nothing. Lines beyond it are counted and left out of a save (device_config.h).
/// Every known field at its longest (~300 bytes) plus this must fit SPORE_DEVICE_CONFIG_MAX_BYTES.
#ifndef SPORE_DEVICE_CONFIG_UNKNOWN_BYTES
#define SPORE_DEVICE_CONFIG_UNKNOWN_BYTES 128
#endif

/// HTTP requests an ESP8266 node serves at once (HttpRequestTable slots); one more is answered
/// 503 without its body being read. Each slot holds SPORE_ESP_MAX_BODY_BYTES of RAM.
#ifndef SPORE_ESP_MAX_HTTP_REQUESTS
#define SPORE_ESP_MAX_HTTP_REQUESTS 3
#endif

/// Longest request body an ESP8266 node buffers (other than the streamed update upload); a
/// longer one is answered 413.
#ifndef SPORE_ESP_MAX_BODY_BYTES
#define SPORE_ESP_MAX_BODY_BYTES 384
#endif

/// Bytes of one piece ("unit") of an answer rendered in chunks (chunked_answer.h): the buffer a
/// ChunkedAnswer keeps between two calls of the HTTP library's filler. Every unit the node's own
/// answers produce (a member's head, one API entry, one metrics line, ...) fits it even with every
/// string at its longest and fully escaped (ChunkedAnswerTest.WorstCaseUnitsFitTheCarry); an answer
/// written in one piece (errors, the challenge, a sketch's JSON routes) must fit it too.
#ifndef SPORE_ANSWER_CARRY_BYTES
#define SPORE_ANSWER_CARRY_BYTES 512
#endif

/// Request targets an ESP8266 node routes: the path plus the query as the adapter re-encodes it
/// from ESPAsyncWebServer's parameters must be shorter than this (else 414 before the body). The
/// adapter's stack buffer for the target has this size; SPORE's longest target (an event stream
/// with a topic filter) is under 100 bytes.
#ifndef SPORE_ESP_MAX_TARGET_BYTES
#define SPORE_ESP_MAX_TARGET_BYTES 160
#endif

/// Query parameters an ESP8266 request may carry (SPORE's routes read at most one). The head screen
/// (http_head_screen.h) resets a connection whose request line has more before ESPAsyncWebServer
/// parses it into its list (48 B of heap each); admission's 414 stays as a second check.
#ifndef SPORE_ESP_MAX_QUERY_PARAMS
#define SPORE_ESP_MAX_QUERY_PARAMS 4
#endif

/// Header lines an ESP8266 request may carry. A browser sends up to ~18 (Chrome with its sec-ch-ua
/// and sec-fetch lines), curl 3-5. The head screen resets a connection with more before
/// ESPAsyncWebServer makes an AsyncWebHeader of each; admission's 431 stays as a second check.
#ifndef SPORE_ESP_MAX_HEADERS
#define SPORE_ESP_MAX_HEADERS 24
#endif

/// The head screen (http_head_screen.h) in front of ESPAsyncWebServer: the longest request line
/// (method, target as sent, version, CR; without the LF) an ESP8266 node lets the library parse.
/// Longer is a reset connection before the library has seen a byte. Leaves room for the method,
/// the version and a client that percent-encodes more than the adapter's re-encoding
/// (SPORE_ESP_MAX_TARGET_BYTES) does.
#ifndef SPORE_ESP_MAX_REQUEST_LINE_BYTES
#define SPORE_ESP_MAX_REQUEST_LINE_BYTES 256
#endif

/// The head screen: the longest header line (name, value, CR; without the LF). A browser's longest
/// (User-Agent, Accept) is ~150 B; the library keeps each line in a String while it grows.
#ifndef SPORE_ESP_MAX_HEADER_LINE_BYTES
#define SPORE_ESP_MAX_HEADER_LINE_BYTES 512
#endif

/// The head screen: the whole request head (request line, header lines and the blank line, every
/// byte counted). A browser's head to the dashboard is under 1 KB; what the library builds from a
/// head is about its size plus ~64 B per header line (platform/esp8266/README.md, "Known limits").
#ifndef SPORE_ESP_MAX_HEAD_BYTES
#define SPORE_ESP_MAX_HEAD_BYTES 1536
#endif

/// The head screen: connections an ESP8266 node lets send a request head at once (one screen each).
/// One more is reset at accept, before ESPAsyncTCP allocates anything for it. lwIP's
/// MEMP_NUM_TCP_PCB (5) does not bound connections on the ESP8266 core (MEMP_MEM_MALLOC 1 takes
/// pcbs from the heap); the listener's backlog of this plus one bounds the half-open ones. The heap all heads may
/// hold at once is this many times the per-head worst case (the listener also checks the free heap
/// for it at accept).
#ifndef SPORE_ESP_MAX_HEAD_SCREENS
#define SPORE_ESP_MAX_HEAD_SCREENS 4
#endif

/// Head screens one client address may hold at once on an ESP8266 node (core's admission policy,
/// http_admission.h, as spored's per-address cap): one more from that address is reset at accept,
/// so one host cannot hold every screen; a browser's parallel requests send their heads within
/// milliseconds of each other. When every screen is taken, a new connection takes the place of
/// the head choose_eviction() picks (from the address holding the most, the oldest first).
#ifndef SPORE_ESP_MAX_HEAD_SCREENS_PER_ADDRESS
#define SPORE_ESP_MAX_HEAD_SCREENS_PER_ADDRESS 3
#endif

/// Milliseconds an ESP8266 connection has, from accept, to send its whole request head; later it
/// is reset and its screen freed (platform/esp8266/http_listener.h). A head is one or two TCP
/// segments from any real client; without a deadline four connections sending a byte every
/// 2.9 s held every screen (ESPAsyncTCP's 3 s receive timeout restarts with each byte).
#ifndef SPORE_ESP_HEAD_TIMEOUT_MS
#define SPORE_ESP_HEAD_TIMEOUT_MS 5000
#endif

/// Cluster events (docs/events.md): the outbound log, the events this node published last and can
/// still re-send to a peer that missed one. Each slot holds a whole event (about 40 B plus
/// SPORE_EVENT_PAYLOAD_MAX), so the log is the RAM price of repair: a peer that misses more than
/// this many events of a node before it can ask again loses the oldest (counted, never silent).
#ifndef SPORE_EVENT_LOG_SIZE
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_EVENT_LOG_SIZE 4
#else
#define SPORE_EVENT_LOG_SIZE 16
#endif
#endif

/// Largest payload this node publishes, in bytes; at most 256 (wire::kMaxEventPayloadBytes, the
/// protocol's limit, which every node accepts whatever this is). 64 on the ESP8266 keeps the
/// outbound log at ~0.4 KB; hosts publish up to the protocol limit.
#ifndef SPORE_EVENT_PAYLOAD_MAX
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_EVENT_PAYLOAD_MAX 64
#else
#define SPORE_EVENT_PAYLOAD_MAX 256
#endif
#endif

/// Tag-verified datagrams a node takes from one member per second (DatagramLimiter, by MemberTable
/// slot, never by source address: docs/protocol.md §11.11); more are dropped and counted
/// (spore_datagrams_rejected_total{reason="rate_limited_member"}). A healthy member sends a few
/// per second (heartbeat, probe answers, INFO pages, its events); the ESP8266 value still lets a
/// member publish dozens of events per second, the host value hundreds.
#ifndef SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S 100
#else
#define SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S 1000
#endif
#endif

/// Datagrams per second that claim no member (unknown senders, v1, garbage), all sources
/// together (DatagramLimiter); more are dropped before decoding or any tag check and counted
/// (reason="rate_limited_unverified"). They never use up a member's budget. Legitimate ones are
/// first contacts: joins and the nodes a full table cannot hold (each at most ~1 per heartbeat).
/// The ESP8266 value bounds the tag checks strangers can cost it to 50 per second; the host value
/// leaves room for 200-node simulations with 64-member tables (136 strangers x 4 heartbeats/s).
#ifndef SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S 50
#else
#define SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S 2000
#endif
#endif

/// DISCOVER answers (docs/protocol.md §4.13) a node queues per second, from anyone; more requests
/// are refused as `discover_limited`, as are those finding the back half of the
/// SPORE_MAX_PENDING_REPLIES reply slots taken (the front half is kept for join replies). A broadcast request is answered by every node, so this
/// bounds what one spoofed request stream can draw from a cluster: N x this many answers per
/// second. `spore discover` sends 3 requests a run.
#ifndef SPORE_MAX_DISCOVER_ANSWERS_PER_S
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_DISCOVER_ANSWERS_PER_S 4
#else
#define SPORE_MAX_DISCOVER_ANSWERS_PER_S 20
#endif
#endif

/// Addresses that have not proved membership whose anti-amplification credit a node keeps at once
/// (AmplificationGuard, 16 B each, plus SPORE_MAX_JOIN_ADDRESSES pinned entries). More sources
/// only make the oldest credit forgotten (the node answers less), never let it send more.
#ifndef SPORE_MAX_UNVERIFIED_SOURCES
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_UNVERIFIED_SOURCES 8
#else
#define SPORE_MAX_UNVERIFIED_SOURCES 32
#endif
#endif

/// Server-Sent Event streams (GET /api/cluster/events/stream) open at once; one more gets 503
/// too_many_streams. Each open stream costs the ESP8266 a TCP connection and its send buffer
/// (about 1.5 KB of heap while a message is in flight), and a Linux node one HTTP worker thread.
#ifndef SPORE_MAX_EVENT_STREAMS
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MAX_EVENT_STREAMS 2
#else
#define SPORE_MAX_EVENT_STREAMS 8
#endif
#endif

/// Buffer for one streamed event's JSON `data` line (EventApi, RAM of the node): room for a
/// SPORE_EVENT_PAYLOAD_MAX payload and a hostname even if every byte is escaped as \u00XX, plus
/// the fixed fields. A larger event (a 256 B payload from a host, on an ESP8266) is not streamed
/// and counted (EventApi::oversize()).
#ifndef SPORE_SSE_DATA_MAX
#define SPORE_SSE_DATA_MAX (6 * SPORE_EVENT_PAYLOAD_MAX + 6 * SPORE_MAX_HOSTNAME_LEN + 192)
#endif

/// The event stream's replay ring (SseRing, docs/events.md "Reconnecting"): the last streamed
/// messages a reconnecting client's Last-Event-ID replays, as bytes of their topic and JSON data
/// and as a count of messages. A Linux node keeps 16 (at least 4 of the largest); the ESP8266
/// keeps none (RAM): a client reconnecting to it goes on from the present.
#ifndef SPORE_SSE_REPLAY_BYTES
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_SSE_REPLAY_BYTES 0
#else
#define SPORE_SSE_REPLAY_BYTES (4 * SPORE_SSE_DATA_MAX)
#endif
#endif
#ifndef SPORE_SSE_REPLAY_EVENTS
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_SSE_REPLAY_EVENTS 0
#else
#define SPORE_SSE_REPLAY_EVENTS 16
#endif
#endif

/// MQTT bridge (docs/mqtt.md): the topic buffer, bytes with the NUL. "spore/<cluster>/<node>/
/// members/<peer>" is the longest topic: 6 + 31 + 1 + 31 + 9 + 31 = 109 bytes.
#ifndef SPORE_MQTT_TOPIC_MAX
#define SPORE_MQTT_TOPIC_MAX 112
#endif

/// MQTT bridge: the payload buffer every document is built in (state, discovery, results), bytes
/// with the NUL. The largest is a Home Assistant discovery document with every name at its
/// longest (MqttBridge::kLargestDocumentBytes), or an own cluster event whose payload is all
/// control bytes (each escaped as \u00XX: 6 x SPORE_EVENT_PAYLOAD_MAX + 80); both checked at
/// compile time. The ESP8266 spends no more RAM than its 64-byte events and the discovery
/// documents need; hosts publish 256-byte events.
#ifndef SPORE_MQTT_PAYLOAD_MAX
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MQTT_PAYLOAD_MAX 704
#else
#define SPORE_MQTT_PAYLOAD_MAX 1664
#endif
#endif

/// MQTT bridge: the outbox, bytes. What the bridge builds inside a callback (a local event fired
/// from a web-server handler, a command's answer inside the client's read) waits here until its
/// loop() publishes it, so no publish runs nested in another or in the ESP8266's system context
/// (docs/mqtt.md, "Outbox"). Each message costs its topic, its payload and 5 bytes; when full,
/// new messages are dropped and counted, never waited for. It must hold the largest message
/// (checked in mqtt_queue.h). 1 KB on the ESP8266 holds ~8 typical event messages, or one of
/// the largest; hosts queue 8 KB.
#ifndef SPORE_MQTT_QUEUE_BYTES
#if defined(SPORE_LIMITS_ESP8266)
#define SPORE_MQTT_QUEUE_BYTES 1024
#else
#define SPORE_MQTT_QUEUE_BYTES 8192
#endif
#endif

/// MQTT bridge: the command budget of one connection, a token bucket (docs/mqtt.md, "Command
/// budget"). Every command the bridge refuses (retained, stale, wrong proof, malformed, unknown)
/// takes one token for its answer; with none left it is dropped unanswered and counted
/// (MqttBridgeStats::throttled, spore_mqtt_commands_refused_total{reason="throttled"}). A
/// command with a valid proof takes none: it needs the node's next nonce, so those come one per
/// operator round trip. The bucket refills at SPORE_MQTT_COMMANDS_PER_S up to
/// SPORE_MQTT_COMMAND_BURST and is full again after every connect.
#ifndef SPORE_MQTT_COMMANDS_PER_S
#define SPORE_MQTT_COMMANDS_PER_S 5
#endif
#ifndef SPORE_MQTT_COMMAND_BURST
#define SPORE_MQTT_COMMAND_BURST 10
#endif
